// Internals of HttpServer shared by its routing (http_server.cc) and its transport
// (http_transport.cc): a request as read from the wire, routes and their matches.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "optimus/rpc/http_server.h"

namespace optimus::rpc {

namespace internal {

// A request as read from the wire, decoded.
struct RawRequest {
  boost::beast::http::request<boost::beast::http::string_body> message;
  std::string method;
  std::string path;                                        // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::string remote_addr;
  std::string trace_id;
  std::chrono::steady_clock::time_point start;
};

// Fills `raw.path` and `raw.query` from a request target (origin form, or absolute form from a
// proxy): %XX escapes decoded (a malformed one kept as it is), '+' a space in the query.
void ParseTarget(std::string_view target, RawRequest& raw);

}  // namespace internal

struct HttpServer::Route {
  std::string method;
  std::string pattern;
  std::string access_key;  // "METHOD pattern": what the authenticator's rules are keyed by
  // One entry per path segment: {literal, false} or {placeholder name, true}.
  std::vector<std::pair<std::string, bool>> segments;
  HttpHandler handler;
  // Built-in endpoints: no token needed, access log at debug, workers of their own.
  bool builtin = false;
};

struct HttpServer::Match {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  // Methods of routes matching the path when none matches the method (for 405).
  std::string allowed;
};

}  // namespace optimus::rpc
