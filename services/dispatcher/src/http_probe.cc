// Http dependencies asked in the background (see http_probe.h).
#include "http_probe.h"

#include <curl/curl.h>

#include "absl/strings/str_cat.h"

namespace optimus::dispatcher {

bool HttpProbe::Ok(const spec::HttpDependency& dep, int64_t now) {
  std::string key = dep.url;
  for (const auto& [k, v] : dep.params) absl::StrAppend(&key, "\n", k, "=", v);
  for (const auto& [k, v] : dep.headers) absl::StrAppend(&key, "\n", k, ":", v);
  std::lock_guard lock(mu_);
  Entry& e = entries_[key];
  if (!e.pending && (e.checked_ms < 0 || now - e.checked_ms >= interval_ms_)) {
    e.pending = true;
    e.dep = dep;
    e.checked_ms = now;
    queue_.push_back(key);
    cv_.notify_one();
  }
  return e.ok;
}

bool HttpProbe::Ask(const spec::HttpDependency& dep) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return false;
  std::string url = dep.url;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : dep.params) {
    char* ek = curl_easy_escape(curl, k.data(), static_cast<int>(k.size()));
    char* ev = curl_easy_escape(curl, v.data(), static_cast<int>(v.size()));
    absl::StrAppend(&url, std::string(1, sep), ek, "=", ev);
    curl_free(ek);
    curl_free(ev);
    sep = '&';
  }
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : dep.headers) {
    headers = curl_slist_append(headers, absl::StrCat(k, ": ", v).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  // Optimus's http sensor: a status from 200 to 300 passes.
  return rc == CURLE_OK && status >= 200 && status <= 300;
}

void HttpProbe::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::string key;
    spec::HttpDependency dep;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, stop, [&] { return !queue_.empty(); });
      if (stop.stop_requested()) return;
      key = queue_.front();
      queue_.pop_front();
      dep = entries_[key].dep;
    }
    const bool ok = Ask(dep);
    std::lock_guard lock(mu_);
    Entry& e = entries_[key];
    e.ok = ok;
    e.pending = false;
  }
}

}  // namespace optimus::dispatcher
