// A scripted HTTP server on loopback for the unit tests of the S3 and GCS stores: it records
// each request as it arrived on the wire and answers it from the test's handler.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "optimus/testing/testing.h"
#include "uri_util.h"

namespace optimus::blob {

struct Recorded {
  std::string method;
  std::string target;  // Raw path and query, as on the wire.
  std::multimap<std::string, std::string, httplib::detail::ci> headers;
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::map<std::string, std::string> Query() const {
    size_t q = target.find('?');
    auto parsed = uri_util::ParseQuery(q == std::string::npos ? "" : target.substr(q + 1));
    EXPECT_TRUE(parsed.ok()) << target;
    return parsed.ok() ? std::map<std::string, std::string>(parsed->begin(), parsed->end())
                       : std::map<std::string, std::string>{};
  }
};

struct Reply {
  int status = 200;
  std::string body;
};

// Listens on 127.0.0.1:<any port> from construction to destruction; answers every GET, PUT,
// POST and DELETE with `handler`, in a body of type `content_type`.
class ScriptedHttpServer {
 public:
  using Handler = std::function<Reply(const Recorded&)>;

  ScriptedHttpServer(std::string content_type, Handler handler)
      : content_type_(std::move(content_type)), handler_(std::move(handler)) {
    auto serve = [this](const httplib::Request& req, httplib::Response& res) {
      Recorded rec;
      rec.method = req.method;
      rec.target = req.target;
      for (const auto& [name, value] : req.headers) rec.headers.emplace(name, value);
      rec.body = req.body;
      Reply reply = handler_(rec);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(rec));
      }
      res.status = reply.status;
      res.set_content(reply.body, content_type_);
    };
    server_.Get(".*", serve);
    server_.Put(".*", serve);
    server_.Post(".*", serve);
    server_.Delete(".*", serve);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() only stops a server that is running; wait for it so the destructor cannot hang.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ScriptedHttpServer() {
    server_.stop();
    thread_.join();
  }
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // Every request answered so far, in the order of the answers.
  std::vector<Recorded> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  std::string content_type_;
  Handler handler_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Recorded> requests_;
};

// A loopback port that refuses connections: bound without listening, then closed again.
inline int RefusingLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace optimus::blob
