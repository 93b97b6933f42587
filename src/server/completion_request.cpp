#include "server/completion_request.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "server/api_error.hpp"

namespace stagefence::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxStops = 4;  // as OpenAI allows

std::string type_name(const json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

std::string shown(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

[[noreturn]] void wrong(const std::string& param, const json& v, const std::string& expected) {
  throw ApiError::invalid(
      "'" + param + "' is " + type_name(v) + " (" + shown(v) + "): expected " + expected, param,
      "invalid_type");
}

[[noreturn]] void out_of_range(const std::string& param, const json& v,
                               const std::string& allowed) {
  throw ApiError::invalid("'" + param + "' = " + shown(v) + " is not allowed: expected " + allowed,
                          param, "invalid_value");
}

const json* field(const json& body, const char* name) {
  const auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& body, const char* name, double def, double lo, double hi, bool open_lo,
              const std::string& allowed) {
  const json* v = field(body, name);
  if (!v) return def;
  if (!v->is_number()) wrong(name, *v, "a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || (open_lo ? x <= lo : x < lo) || x > hi) out_of_range(name, *v, allowed);
  return x;
}

std::optional<int64_t> integer(const json& body, const char* name, int64_t lo, int64_t hi,
                               const std::string& allowed) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) wrong(name, *v, "an integer");
  const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)
                        ? INT64_MAX
                        : v->get<int64_t>();
  if (x < lo || x > hi) out_of_range(name, *v, allowed);
  return x;
}

bool boolean(const json& body, const char* name, bool def) {
  const json* v = field(body, name);
  if (!v) return def;
  if (!v->is_boolean()) wrong(name, *v, "true or false");
  return v->get<bool>();
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts.
std::string content_text(const json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) wrong(param, content, "a string or an array of text parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!part.is_object()) wrong(p, part, "an object {\"type\": \"text\", \"text\": ...}");
    const json* type = field(part, "type");
    if (!type || !type->is_string() || type->get<std::string>() != "text")
      throw ApiError::invalid("'" + p + ".type' must be \"text\" (this server reads text only)",
                              p + ".type", "invalid_value");
    const json* t = field(part, "text");
    if (!t || !t->is_string()) wrong(p + ".text", t ? *t : json(), "a string");
    text += t->get<std::string>();
  }
  return text;
}

std::vector<tok::ChatMessage> parse_messages(const json& body) {
  const json* messages = field(body, "messages");
  if (!messages) throw ApiError::invalid("'messages' is required", "messages", "missing_field");
  if (!messages->is_array()) wrong("messages", *messages, "an array of messages");
  if (messages->empty())
    throw ApiError::invalid("'messages' is empty: expected at least one message", "messages",
                            "invalid_value");
  std::vector<tok::ChatMessage> out;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) wrong(p, m, "an object with 'role' and 'content'");
    const json* role = field(m, "role");
    if (!role)
      throw ApiError::invalid("'" + p + ".role' is required", p + ".role", "missing_field");
    if (!role->is_string()) wrong(p + ".role", *role, "a string");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // OpenAI's newer name for the system role
    if (r != "system" && r != "user" && r != "assistant")
      throw ApiError::invalid(
          "'" + p + ".role' = \"" + r + "\" is not allowed: expected system, user or assistant",
          p + ".role", "invalid_value");
    const json* content = field(m, "content");
    if (!content)
      throw ApiError::invalid("'" + p + ".content' is required", p + ".content", "missing_field");
    out.push_back({r, content_text(*content, p + ".content")});
  }
  return out;
}

std::string parse_prompt(const json& body) {
  const json* prompt = field(body, "prompt");
  if (!prompt) throw ApiError::invalid("'prompt' is required", "prompt", "missing_field");
  if (prompt->is_string()) return prompt->get<std::string>();
  if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string())
    return (*prompt)[0].get<std::string>();
  wrong("prompt", *prompt, "a string (or an array of one string)");
}

std::vector<std::string> parse_stop(const json& body) {
  const json* stop = field(body, "stop");
  if (!stop) return {};
  std::vector<std::string> out;
  if (stop->is_string()) {
    out.push_back(stop->get<std::string>());
  } else if (stop->is_array()) {
    if (stop->size() > kMaxStops)
      out_of_range("stop", *stop, "at most " + std::to_string(kMaxStops) + " strings");
    for (size_t i = 0; i < stop->size(); ++i) {
      if (!(*stop)[i].is_string()) wrong("stop[" + std::to_string(i) + "]", (*stop)[i], "a string");
      out.push_back((*stop)[i].get<std::string>());
    }
  } else {
    wrong("stop", *stop, "a string or an array of strings");
  }
  for (const std::string& s : out)
    if (s.empty()) throw ApiError::invalid("'stop' holds an empty string", "stop", "invalid_value");
  return out;
}

// Fields that would change the answer in ways this server does not implement.
void reject_unsupported(const json& body) {
  if (const auto n = integer(body, "n", 1, 1, "1 (one choice per request)")) (void)n;
  if (const json* v = field(body, "logprobs"); v && !(v->is_boolean() && !v->get<bool>()))
    throw ApiError::invalid("'logprobs' is not supported by this server", "logprobs",
                            "unsupported_parameter");
  for (const char* name : {"tools", "functions"})
    if (const json* v = field(body, name); v && !(v->is_array() && v->empty()))
      throw ApiError::invalid(std::string("'") + name + "' is not supported by this server", name,
                              "unsupported_parameter");
  for (const char* name : {"presence_penalty", "frequency_penalty"}) {
    const double x = number(body, name, 0, -2, 2, false, "a number in [-2, 2]");
    if (x != 0)
      throw ApiError::invalid(std::string("'") + name + "' other than 0 is not supported", name,
                              "unsupported_parameter");
  }
  if (const json* v = field(body, "response_format")) {
    const json* type = v->is_object() ? field(*v, "type") : nullptr;
    if (!type || !type->is_string() || type->get<std::string>() != "text")
      throw ApiError::invalid("'response_format' other than {\"type\": \"text\"} is not supported",
                              "response_format", "unsupported_parameter");
  }
}

}  // namespace

CompletionRequest parse_completion_request(std::string_view body_text, Endpoint endpoint) {
  json body;
  try {
    body = json::parse(body_text);
  } catch (const json::parse_error& e) {
    throw ApiError::invalid(std::string("the request body is not valid JSON: ") + e.what(), "",
                            "invalid_json");
  }
  if (!body.is_object()) wrong("body", body, "a JSON object");
  CompletionRequest r;
  r.endpoint = endpoint;
  if (const json* model = field(body, "model")) {
    if (!model->is_string()) wrong("model", *model, "a string");
    r.model = model->get<std::string>();
  }
  if (endpoint == Endpoint::Chat)
    r.messages = parse_messages(body);
  else
    r.prompt = parse_prompt(body);
  reject_unsupported(body);
  const std::string tokens_allowed = "an integer >= 1";
  std::optional<int64_t> max_tokens =
      integer(body, "max_completion_tokens", 1, 1 << 30, tokens_allowed);
  if (!max_tokens) max_tokens = integer(body, "max_tokens", 1, 1 << 30, tokens_allowed);
  if (max_tokens) r.max_tokens = int(*max_tokens);
  r.temperature = float(number(body, "temperature", 1.0, 0, 2, false, "a number in [0, 2]"));
  r.top_p = float(number(body, "top_p", 1.0, 0, 1, true, "a number in (0, 1]"));
  r.top_k = int(integer(body, "top_k", 0, 1 << 30, "an integer >= 0 (0 = no limit)").value_or(0));
  if (const auto seed = integer(body, "seed", std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max(), "an integer"))
    r.seed = uint64_t(*seed);
  r.stop = parse_stop(body);
  r.stream = boolean(body, "stream", false);
  if (const json* options = field(body, "stream_options")) {
    if (!options->is_object()) wrong("stream_options", *options, "an object");
    r.include_usage = boolean(*options, "include_usage", false);
  }
  r.cache_prompt = boolean(body, "cache_prompt", true);
  return r;
}

}  // namespace stagefence::server
