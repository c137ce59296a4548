// HttpServer's transport: connections on Boost.Beast over Asio, their limits and timeouts,
// start and graceful stop (see http_server.h for the model).
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "http_internal.h"
#include "optimus/rpc/status.h"
#include "optimus/telemetry/health.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"
#include "optimus/telemetry/trace.h"
#include "request_metrics.h"

namespace optimus::rpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded (a malformed one is kept as it is); in a query, '+' is a space.
std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && in[i] == '+' ? ' ' : in[i]);
  }
  return out;
}

}  // namespace

void internal::ParseTarget(std::string_view target, internal::RawRequest& raw) {
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const size_t q = target.find('?');
  raw.path = PercentDecode(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view query = target.substr(q + 1);
  if (const size_t hash = query.find('#'); hash != std::string_view::npos) {
    query = query.substr(0, hash);
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    raw.query.emplace_back(
        PercentDecode(pair.substr(0, eq), true),
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true));
  }
}

struct HttpServer::Impl {
  class Connection;

  explicit Impl(HttpServer& server)
      : owner(server),
        options(server.options_),
        open_gauge(&prometheus::BuildGauge()
                        .Name("optimus_http_connections")
                        .Help("Open HTTP connections")
                        .Register(*server.options_.metrics)
                        .Add({})),
        shed(&prometheus::BuildCounter()
                  .Name("optimus_http_connections_shed_total")
                  .Help("HTTP connections closed or refused by the server's limits: timeout (no "
                        "request in time), evicted (made room at a connection limit), refused "
                        "(a limit reached with every connection busy)")
                  .Register(*server.options_.metrics)) {
    // Every series exists from the start, so that rates and alerts see 0, not nothing.
    for (const char* reason : {"timeout", "evicted", "refused"}) shed->Add({{"reason", reason}});
  }

  void Accept();
  void Admit(tcp::socket socket);
  // The connection of `client` (every client: "") waiting longest with no request under way.
  // Under `mu`; every connection it looked at is put in `held`, to be released after `mu` (the
  // last reference to a connection closes it, which takes `mu`).
  std::shared_ptr<Connection> OldestIdle(const std::string& client,
                                         std::vector<std::shared_ptr<Connection>>& held);
  void Closed(Connection* connection, const std::string& client);
  void Shed(std::string_view reason) { shed->Add({{"reason", std::string(reason)}}).Increment(); }

  HttpServer& owner;
  const HttpServerOptions& options;
  asio::io_context io{2};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      asio::make_work_guard(io)};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_pause{io};
  std::vector<std::thread> io_threads;
  std::unique_ptr<asio::thread_pool> workers;  // handlers of routes
  std::unique_ptr<asio::thread_pool> probes;   // the built-in endpoints
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::condition_variable all_closed;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open;
  std::map<std::string, int> per_client;
  prometheus::Gauge* open_gauge;
  prometheus::Family<prometheus::Counter>* shed;
};

class HttpServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl& impl, tcp::socket socket, std::string client, std::string remote)
      : impl_(impl),
        stream_(std::move(socket)),
        client_(std::move(client)),
        remote_(std::move(remote)) {
    idle_since_ns_ = Clock::now().time_since_epoch().count();
  }
  ~Connection() { impl_.Closed(this, client_); }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Closes the connection unless a request is under way on it (that one ends it, as the server
  // is stopping or the connection was chosen to make room). Any thread.
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->Close();
    });
  }

  bool idle() const { return idle_; }
  const std::string& client() const { return client_; }
  int64_t idle_since_ns() const { return idle_since_ns_; }

 private:
  void ReadHeader() {
    if (impl_.stopping) return Close();
    idle_ = true;
    // Waiting since it was accepted, or since its last answer: in that order they make room.
    if (served_ > 0) idle_since_ns_ = Clock::now().time_since_epoch().count();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(impl_.options.max_header_bytes));
    parser_->body_limit(impl_.options.max_body_bytes);
    stream_.expires_after(served_ == 0 ? impl_.options.header_timeout
                                       : impl_.options.keep_alive_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec == beast::error::timeout) {
      impl_.Shed("timeout");
      return Close();
    }
    if (ec == http::error::header_limit) {
      return Reject(431, "the request's headers exceed " +
                             std::to_string(impl_.options.max_header_bytes) + " bytes");
    }
    if (ec == http::error::body_limit) return Reject(413, TooLarge());
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    if (ec) {
      return Reject(400, "malformed HTTP request: " + ec.message());
    }
    if (parser_->is_done()) return OnRequest({});
    if (auto length = parser_->content_length(); length && *length > impl_.options.max_body_bytes) {
      return Reject(413, TooLarge());
    }
    stream_.expires_after(impl_.options.read_timeout);
    const auto& header = parser_->get();
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  void OnRequest(beast::error_code ec) {
    if (ec == http::error::body_limit) return Reject(413, TooLarge());
    if (ec == beast::error::timeout) {
      impl_.Shed("timeout");
      return Close();
    }
    if (ec) return Close();
    auto raw = std::make_shared<internal::RawRequest>();
    raw->message = parser_->release();
    Describe(*raw);
    head_ = raw->message.method() == http::verb::head;
    version_ = raw->message.version();
    client_keeps_ = raw->message.keep_alive();
    Match match = impl_.owner.FindRoute(raw->method, raw->path);
    asio::thread_pool& pool =
        match.route != nullptr && match.route->builtin ? *impl_.probes : *impl_.workers;
    asio::post(pool, [self = shared_from_this(), raw, match = std::move(match)]() mutable {
      HttpResponse response = self->impl_.owner.Serve(*raw, std::move(match));
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response));
      });
    });
  }

  // Method, path, query, remote address, start and trace id of a request read.
  void Describe(internal::RawRequest& raw) const {
    raw.method = std::string(raw.message.method_string());
    const auto target = raw.message.target();
    ParseTarget(std::string_view(target.data(), target.size()), raw);
    raw.remote_addr = remote_;
    raw.start = Clock::now();
    auto context = telemetry::ParseTraceparent(std::string(raw.message["traceparent"]));
    raw.trace_id = context ? std::move(context->trace_id) : telemetry::NewTraceId();
  }

  std::string TooLarge() const {
    return "the request body exceeds the limit of " + std::to_string(impl_.options.max_body_bytes) +
           " bytes; send a smaller body";
  }

  // Answers a request that cannot be served (too large, malformed) and closes the connection.
  void Reject(int status, const std::string& why) {
    internal::RawRequest raw;
    raw.message = parser_->release();
    Describe(raw);
    head_ = false;
    version_ = 11;
    client_keeps_ = false;
    HttpResponse response =
        HttpResponse::Json(ErrorJson(absl::Status(CodeFromHttpStatus(status), why)), status);
    response.headers.emplace_back("X-Trace-Id", raw.trace_id);
    impl_.owner.Record(raw, impl_.owner.FindRoute(raw.method, raw.path).route, status,
                       response.body.size());
    Write(std::move(response));
  }

  void Write(HttpResponse response) {
    ++served_;
    const bool keep = client_keeps_ && !impl_.stopping &&
                      served_ < std::max(1, impl_.options.keep_alive_max_requests);
    auto out = std::make_shared<http::response<http::string_body>>();
    out->version(version_);
    out->result(static_cast<unsigned>(response.status));
    out->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) out->insert(name, value);
    const size_t length = response.body.size();
    if (!head_) out->body() = std::move(response.body);
    out->content_length(length);
    out->keep_alive(keep);
    stream_.expires_after(impl_.options.write_timeout);
    http::async_write(stream_, *out,
                      [self = shared_from_this(), out, keep](beast::error_code ec, size_t) {
                        if (ec || !keep) return self->Close();
                        self->ReadHeader();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  Impl& impl_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const std::string client_;
  const std::string remote_;
  int served_ = 0;
  unsigned version_ = 11;
  bool head_ = false;
  bool client_keeps_ = false;
  // Waiting for a request's headers (possibly part of them), not serving one.
  std::atomic<bool> idle_{true};
  std::atomic<int64_t> idle_since_ns_{0};
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of file descriptors, most likely: shed nothing more, try again shortly.
      LOG_WARN("the HTTP server cannot accept a connection; trying again",
               {{"error", ec.message()}});
      accept_pause.expires_after(std::chrono::milliseconds(100));
      accept_pause.async_wait([this](beast::error_code e) {
        if (!e) Accept();
      });
      return;
    }
    Admit(std::move(socket));
    Accept();
  });
}

std::shared_ptr<HttpServer::Impl::Connection> HttpServer::Impl::OldestIdle(
    const std::string& client, std::vector<std::shared_ptr<Connection>>& held) {
  std::shared_ptr<Connection> oldest;
  for (auto& [raw, weak] : open) {
    auto c = weak.lock();
    if (c == nullptr) continue;
    held.push_back(c);
    if (!c->idle() || (!client.empty() && c->client() != client)) continue;
    if (oldest == nullptr || c->idle_since_ns() < oldest->idle_since_ns()) oldest = c;
  }
  return oldest;
}

void HttpServer::Impl::Admit(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;  // gone already
  socket.set_option(tcp::no_delay(true), ec);
  std::string client = peer.address().to_string();
  std::string remote = client + ":" + std::to_string(peer.port());
  std::shared_ptr<Connection> evict;
  std::shared_ptr<Connection> connection;
  std::vector<std::shared_ptr<Connection>> held;  // released after the lock
  {
    std::lock_guard lock(mu);
    const bool client_full = per_client[client] >= std::max(1, options.max_client_connections);
    const bool all_full = static_cast<int>(open.size()) >= std::max(1, options.max_connections);
    if (client_full || all_full) {
      evict = OldestIdle(client_full ? client : "", held);
      if (evict == nullptr) {
        if (per_client[client] == 0) per_client.erase(client);
        Shed("refused");
        const std::string body = ErrorJson(
            absl::UnavailableError("the server holds too many connections; try again later"));
        const std::string busy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: "
            "close\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        asio::write(socket, asio::buffer(busy), ec);
        socket.close(ec);
        return;
      }
      Shed("evicted");
    }
    connection = std::make_shared<Connection>(*this, std::move(socket), client, std::move(remote));
    open.emplace(connection.get(), connection);
    ++per_client[client];
    open_gauge->Set(static_cast<double>(open.size()));
  }
  if (evict != nullptr) evict->CloseIfIdle();
  connection->Start();
}

void HttpServer::Impl::Closed(Connection* connection, const std::string& client) {
  std::lock_guard lock(mu);
  open.erase(connection);
  if (auto it = per_client.find(client); it != per_client.end() && --it->second <= 0) {
    per_client.erase(it);
  }
  open_gauge->Set(static_cast<double>(open.size()));
  if (open.empty()) all_closed.notify_all();
}

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {
  if (options_.health == nullptr) {
    own_health_ = std::make_unique<telemetry::HealthRegistry>();
    options_.health = own_health_.get();
  }
  if (options_.metrics == nullptr) options_.metrics = &telemetry::Metrics();
  metrics_ =
      std::make_unique<internal::RequestMetrics>(*options_.metrics, "optimus_http", "HTTP requests",
                                                 std::vector<std::string>{"method", "route"});
  impl_ = std::make_unique<Impl>(*this);
  AddBuiltinRoutes();
}

HttpServer::~HttpServer() {
  if (!started_) return;
  (void)Stop(std::chrono::hours(24 * 365));
  {
    // Requests that outlived Stop's deadline: their handlers end, and their answers are written.
    std::unique_lock lock(impl_->mu);
    impl_->all_closed.wait(lock, [&] { return impl_->open.empty(); });
  }
  impl_->work.reset();
  impl_->io.stop();
  for (std::thread& t : impl_->io_threads) t.join();
  impl_->workers->join();
  impl_->probes->join();
}

absl::Status HttpServer::Start() {
  if (started_) return absl::FailedPreconditionError("HttpServer::Start called twice");
  beast::error_code ec;
  const auto address =
      asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
  if (ec) {
    return absl::InvalidArgumentError("the HTTP server's host " + options_.host +
                                      " is not an IP address: " + ec.message());
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  // Only SO_REUSEADDR, never SO_REUSEPORT: a second process must fail to bind the same port.
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.close(ec);
    if (options_.port == 0) {
      return absl::UnavailableError("cannot bind the HTTP server to " + options_.host +
                                    " on any port; check the host address");
    }
    return absl::UnavailableError("cannot bind the HTTP server to " + options_.host + ":" +
                                  std::to_string(options_.port) +
                                  "; is another process using the port?");
  }
  port_ = acceptor.local_endpoint().port();
  impl_->workers = std::make_unique<asio::thread_pool>(std::max(1, options_.threads));
  impl_->probes = std::make_unique<asio::thread_pool>(2);
  impl_->Accept();
  for (int i = 0; i < 2; ++i) impl_->io_threads.emplace_back([this] { impl_->io.run(); });
  started_ = true;
  LOG_INFO("HTTP server listening", {{"host", options_.host}, {"port", port_}});
  return absl::OkStatus();
}

absl::Status HttpServer::Stop(std::chrono::milliseconds deadline) {
  if (!started_ || stopped_.exchange(true)) return absl::OkStatus();
  impl_->stopping = true;
  std::promise<void> closed;
  asio::post(impl_->io, [this, &closed] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_pause.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  std::vector<std::shared_ptr<Impl::Connection>> open;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [raw, weak] : impl_->open) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  for (auto& c : open) c->CloseIfIdle();
  open.clear();  // outside the lock: the last reference may close the connection
  std::unique_lock lock(impl_->mu);
  if (!impl_->all_closed.wait_for(lock, deadline, [&] { return impl_->open.empty(); })) {
    const size_t running = impl_->open.size();
    lock.unlock();
    LOG_ERROR("HTTP requests still running at the stop deadline",
              {{"port", port_}, {"deadline_ms", deadline.count()}, {"connections", running}});
    return absl::DeadlineExceededError("HTTP server on port " + std::to_string(port_) +
                                       ": requests still running after " +
                                       std::to_string(deadline.count()) + " ms");
  }
  lock.unlock();
  LOG_INFO("HTTP server stopped", {{"port", port_}});
  return absl::OkStatus();
}

}  // namespace optimus::rpc
