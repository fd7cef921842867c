#include "stackd/sockets/tcp_binding.h"

#include <cerrno>

#include "lwip/priv/tcp_priv.h"
#include "stackd/sockets/lwip_errno.h"

namespace stackd {
namespace {

bool Overlaps(const ip_addr_t& a, const ip_addr_t& b) {
  if (ip_addr_isany(&a) || ip_addr_isany(&b)) {
    // A wildcard of one family does not cover the other family's addresses,
    // except a dual-stack "::".
    return IP_IS_ANY_TYPE_VAL(a) || IP_IS_ANY_TYPE_VAL(b) ||
           IP_GET_TYPE(&a) == IP_GET_TYPE(&b);
  }
  return ip_addr_eq(&a, &b);
}

}  // namespace

bool ListenerHolds(const ip_addr_t& ip, uint16_t port) {
  for (tcp_pcb_listen* l = tcp_listen_pcbs.listen_pcbs; l != nullptr; l = l->next) {
    if (l->local_port == port && Overlaps(l->local_ip, ip)) return true;
  }
  return false;
}

bool BinderHolds(const tcp_pcb* self, const ip_addr_t& ip, uint16_t port, bool reuse) {
  for (tcp_pcb* p = tcp_bound_pcbs; p != nullptr; p = p->next) {
    if (p == self || p->local_port != port || !Overlaps(p->local_ip, ip)) continue;
    if (!reuse || !ip_get_option(p, SOF_REUSEADDR)) return true;
  }
  return false;
}

bool BindConflicts(const tcp_pcb* self, const ip_addr_t& ip, uint16_t port,
                   const Sharing& mine, Sharing (*sharing_of)(const tcp_pcb*)) {
  auto shares_port = [&](const Sharing& other) {
    return mine.reuseport && other.reuseport && mine.uid == other.uid;
  };
  for (tcp_pcb_listen* l = tcp_listen_pcbs.listen_pcbs; l != nullptr; l = l->next) {
    if (l->local_port != port || !Overlaps(l->local_ip, ip)) continue;
    if (!shares_port(sharing_of(reinterpret_cast<const tcp_pcb*>(l)))) return true;
  }
  for (tcp_pcb* p = tcp_bound_pcbs; p != nullptr; p = p->next) {
    if (p == self || p->local_port != port || !Overlaps(p->local_ip, ip)) continue;
    const Sharing other = sharing_of(p);
    if (!shares_port(other) && !(mine.reuseaddr && other.reuseaddr)) return true;
  }
  return false;
}

int BindEach(tcp_pcb* pcb, const std::vector<ip_addr_t>& ips,
             const std::vector<uint16_t>& ports, std::vector<tcp_pcb*>* pcbs) {
  const size_t n = ips.size();
  const u8_t type = IP_GET_TYPE(&pcb->local_ip);
  *pcbs = {pcb};
  int error = 0;
  for (size_t i = 0; i < n && error == 0; ++i) {
    if (i > 0) {
      tcp_pcb* extra = tcp_new_ip_type(type);
      if (extra == nullptr) {
        error = ENOMEM;
        break;
      }
      extra->so_options = pcb->so_options;
      pcbs->push_back(extra);
    }
    ip_set_option((*pcbs)[i], SOF_REUSEADDR);
    err_t err = tcp_bind((*pcbs)[i], &ips[i], ports[i]);
    if (err != ERR_OK) error = LwipErrToErrno(err);
  }
  if (error != 0) {
    for (size_t i = 1; i < pcbs->size(); ++i) tcp_abort((*pcbs)[i]);
    pcbs->clear();
  }
  return error;
}

}  // namespace stackd
