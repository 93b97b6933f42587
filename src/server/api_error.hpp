// An error a request gets back, in the OpenAI shape:
// {"error": {"message": ..., "type": ..., "param": ..., "code": ...}} with an HTTP status.
#pragma once
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace stagefence::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type, std::string param = "",
           std::string code = "");

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  nlohmann::json to_json() const;

  // 400 invalid_request_error naming the parameter.
  static ApiError invalid(std::string message, std::string param = "", std::string code = "");

 private:
  int status_;
  std::string type_, param_, code_;
};

}  // namespace stagefence::server
