// Tells whether the client of a request has gone away while its answer is being generated.
// cpp-httplib does not hand a handler its socket, so the probe finds it among this process's
// descriptors by the request's two addresses, and polls it for a hang-up without reading.
#pragma once
#include <string>

namespace stagefence::server {

class ConnectionProbe {
 public:
  ConnectionProbe(const std::string& local_addr, int local_port, const std::string& remote_addr,
                  int remote_port);

  // The socket was found (a probe that found none never reports a hang-up).
  bool found() const { return fd_ >= 0; }
  // The client closed its end or the connection broke.
  bool closed() const;

 private:
  int fd_ = -1;
};

}  // namespace stagefence::server
