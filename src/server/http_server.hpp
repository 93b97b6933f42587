// The HTTP side of `stagefence serve` (cpp-httplib): the OpenAI routes, GET /health (JSON, with
// the runtime's live command buffers, fences and pool bytes) and GET /metrics (Prometheus text),
// the optional bearer key, and errors in the OpenAI shape for every failure, unknown routes
// and oversized bodies included.
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "server/completion_handler.hpp"
#include "server/scheduler.hpp"
#include "server/served_model.hpp"

namespace httplib {
class Server;
}

namespace stagefence::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port
  std::string api_key;  // non-empty: every request needs "Authorization: Bearer <key>"
  int threads = 0;      // 0: slots + queue limit + 4, so every waiting client has a thread
  std::chrono::seconds request_timeout{600};
  size_t max_body_bytes = size_t(8) << 20;
};

class HttpServer {
 public:
  HttpServer(Scheduler& scheduler, const ServedModel& model, HttpOptions options, int queue_limit);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the socket; returns the port (useful with port 0). Throws Error(Io) naming host and
  // port when it cannot.
  int bind();
  // Serves until stop(); returns false if the listener failed.
  bool run();
  void stop();

 private:
  void add_routes();

  Scheduler& scheduler_;
  const ServedModel& model_;
  HttpOptions options_;
  CompletionHandler completions_;
  std::unique_ptr<httplib::Server> http_;
};

}  // namespace stagefence::server
