// `optimus token new|hash`: the token goes to its user, only its SHA-256 to the servers.
#include "token_command.h"

#include <string>

#include "absl/strings/ascii.h"
#include "channel.h"
#include "flags.h"
#include "optimus/rpc/auth.h"

namespace optimus::cli {
namespace {

constexpr char kHelp[] =
    "Usage: optimus token new|hash (--admin | -p PROJECT)\n\n"
    "Servers keep bearer tokens as SHA-256 hashes in auth.tokens (OPTIMUS_AUTH_TOKENS,\n"
    "comma-separated). A project's token may deploy, read and run that project's jobs and\n"
    "set its secrets; an admin token may do everything, and only it creates projects.\n\n"
    "  new    make a random token; prints it, then the auth.tokens entry for the servers\n"
    "  hash   read a token on standard input; print its auth.tokens entry\n\n"
    "Flags:\n"
    "  -p, --project NAME   a token of this project\n"
    "      --admin          an admin token\n\n"
    "Clients send the token from OPTIMUS_AUTH_BEARER_TOKEN; Airflow sends it from the\n"
    "environment variable of that name, or the Airflow Variable optimus_auth_bearer_token.\n";

}  // namespace

int RunTokenCommand(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  const std::string verb = argc > 1 ? argv[1] : "";
  if (verb == "-h" || verb == "--help") {
    out << kHelp;
    return 0;
  }
  if (verb != "new" && verb != "hash") {
    err << "optimus token: name a verb, new or hash\n\n" << kHelp;
    return 2;
  }
  const std::string command = "optimus token " + verb;
  std::string project;
  bool admin = false;
  Flags flags(command);
  flags.String("project", 'p', &project);
  flags.Bool("admin", 0, &admin);
  if (auto done = flags.ParseCommand(argc - 1, argv + 1, kHelp, out, err)) return *done;
  if (admin == !project.empty()) {
    err << command << ": give exactly one of --admin and -p PROJECT\n";
    return 2;
  }
  const std::string scope = admin ? "admin" : "project:" + project;

  std::string token;
  if (verb == "new") {
    token = rpc::NewToken();
    out << "token:            " << token << "\n"
        << "auth.tokens entry: " << scope << "=sha256:" << rpc::TokenSha256Hex(token) << "\n"
        << "Give the token to its user (" << kTokenVariable
        << "); it is shown only now. Add the entry to every server's auth.tokens.\n";
    return 0;
  }
  std::getline(in, token);
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    err << command << ": no token on standard input\n";
    return 2;
  }
  out << scope << "=sha256:" << rpc::TokenSha256Hex(token) << "\n";
  return 0;
}

}  // namespace optimus::cli
