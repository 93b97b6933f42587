#include "server/http_server.hpp"

#include <httplib.h>

#include <cstdint>
#include <sstream>

#include "server/api_error.hpp"
#include "server/connection_probe.hpp"
#include "stagefence/counters.hpp"
#include "stagefence/error.hpp"

namespace stagefence::server {
namespace {

using nlohmann::json;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.status(), e.to_json());
}

json runtime_gauges() {
  const CounterSnapshot c = counters::snapshot();
  return {
      {"live_command_buffers", c.live_command_buffers}, {"live_fences", c.live_fences},
      {"live_allocations", c.live_allocations},         {"pool_bytes_in_use", c.pool_bytes_in_use},
      {"pool_bytes_cached", c.pool_bytes_cached},       {"live_graph_execs", c.live_graph_execs}};
}

json scheduler_json(const SchedulerStats& s) {
  return {{"slots", s.slots},
          {"busy", s.busy},
          {"queued", s.queued},
          {"completed", s.completed},
          {"cancelled", s.cancelled},
          {"failed", s.failed},
          {"prompt_tokens", s.prompt_tokens},
          {"cached_prompt_tokens", s.cached_prompt_tokens},
          {"generated_tokens", s.generated_tokens}};
}

std::string prometheus(const SchedulerStats& s, const json& gauges) {
  std::ostringstream os;
  const auto metric = [&](const std::string& name, const char* type, const char* help, auto value) {
    os << "# HELP stagefence_" << name << " " << help << "\n# TYPE stagefence_" << name << " "
       << type << "\nstagefence_" << name << " " << value << "\n";
  };
  metric("slots", "gauge", "generation slots", s.slots);
  metric("slots_busy", "gauge", "slots running a request", s.busy);
  metric("requests_queued", "gauge", "requests waiting for a slot", s.queued);
  metric("requests_completed_total", "counter", "requests that finished", s.completed);
  metric("requests_cancelled_total", "counter", "requests cancelled (client gone, shutdown)",
         s.cancelled);
  metric("requests_failed_total", "counter", "requests whose generation failed", s.failed);
  metric("prompt_tokens_total", "counter", "prompt tokens of finished requests", s.prompt_tokens);
  metric("prompt_tokens_cached_total", "counter", "prompt tokens taken from a slot's KV cache",
         s.cached_prompt_tokens);
  metric("generated_tokens_total", "counter", "tokens generated", s.generated_tokens);
  for (const auto& [name, value] : gauges.items())
    metric(name, "gauge", "runtime gauge (stagefence::counters)", value.get<int64_t>());
  return os.str();
}

}  // namespace

HttpServer::HttpServer(Scheduler& scheduler, const ServedModel& model, HttpOptions options,
                       int queue_limit)
    : scheduler_(scheduler),
      model_(model),
      options_(std::move(options)),
      completions_(scheduler, model, options_.request_timeout),
      http_(std::make_unique<httplib::Server>()) {
  const int threads =
      options_.threads > 0 ? options_.threads : scheduler.stats().slots + queue_limit + 4;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_read_timeout(std::chrono::seconds(30));
  http_->set_write_timeout(std::chrono::seconds(30));
  add_routes();
}

HttpServer::~HttpServer() {
  stop();
}

int HttpServer::bind() {
  const int port = options_.port == 0
                       ? http_->bind_to_any_port(options_.host)
                       : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port < 0)
    raise(ErrorCode::Io, "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                             " (in use, not an address of this machine, or not permitted)");
  return port;
}

bool HttpServer::run() {
  return http_->listen_after_bind();
}

void HttpServer::stop() {
  if (http_) http_->stop();
}

void HttpServer::add_routes() {
  httplib::Server& s = *http_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (options_.api_key.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + options_.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401,
                             req.has_header("Authorization")
                                 ? "invalid API key in the Authorization header"
                                 : "this server needs an API key: send 'Authorization: Bearer "
                                   "<key>'",
                             "authentication_error", "", "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        try {
          std::rethrow_exception(ep);
        } catch (const ApiError& e) {
          send_error(res, e);
        } catch (const std::exception& e) {
          send_error(res, ApiError(500, e.what(), "server_error"));
        } catch (...) {
          send_error(res, ApiError(500, "unknown error", "server_error"));
        }
      });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string what = res.status == 404   ? "no route " + req.method + " " + req.path
                             : res.status == 413 ? "the request body is too large"
                             : res.status == 405
                                 ? "method " + req.method + " is not allowed on " + req.path
                                 : "HTTP error " + std::to_string(res.status);
    send_json(
        res, res.status,
        ApiError(res.status, what, res.status == 404 ? "not_found_error" : "invalid_request_error")
            .to_json());
  });

  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200,
              {{"status", "ok"},
               {"model", model_.id},
               {"context", scheduler_.context()},
               {"scheduler", scheduler_json(scheduler_.stats())},
               {"runtime", runtime_gauges()}});
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus(scheduler_.stats(), runtime_gauges()), "text/plain; version=0.0.4");
  });
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, model_list_json(model_.id, model_.created));
  });
  s.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (id != model_.id)
      throw ApiError(
          404, "the model '" + id + "' does not exist; this server serves '" + model_.id + "'",
          "invalid_request_error", "model", "model_not_found");
    send_json(res, 200, model_list_json(model_.id, model_.created)["data"][0]);
  });
  const auto completion = [this](Endpoint endpoint) {
    return [this, endpoint](const httplib::Request& req, httplib::Response& res) {
      auto admitted = std::make_shared<AdmittedRequest>(completions_.admit(req.body, endpoint));
      auto probe = std::make_shared<ConnectionProbe>(req.local_addr, req.local_port,
                                                     req.remote_addr, req.remote_port);
      const auto client_gone = [probe] { return probe->closed(); };
      if (!admitted->request.stream) {
        json body = completions_.complete(*admitted, client_gone);
        if (!body.is_null()) send_json(res, 200, body);
        return;
      }
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider(
          "text/event-stream",
          [this, admitted, client_gone](size_t, httplib::DataSink& sink) {
            const bool finished = completions_.stream(
                *admitted, [&sink](const std::string& s) { return sink.write(s.data(), s.size()); },
                client_gone);
            if (finished) sink.done();
            return finished;
          },
          [this, admitted](bool) {
            if (!admitted->job->done()) scheduler_.withdraw(admitted->job);
          });
    };
  };
  s.Post("/v1/chat/completions", completion(Endpoint::Chat));
  s.Post("/v1/completions", completion(Endpoint::Completion));
}

}  // namespace stagefence::server
