#include "client/tcp_info.h"

#include <linux/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace stackd::client {

int CopyTcpInfo(const socket::v1::TcpInfo& in, void* value, socklen_t* len) {
  tcp_info out;
  std::memset(&out, 0, sizeof(out));
  out.tcpi_state = static_cast<__u8>(in.state());
  out.tcpi_retransmits = static_cast<__u8>(in.retransmits());
  out.tcpi_rto = in.rto_us();
  out.tcpi_rtt = in.rtt_us();
  out.tcpi_rttvar = in.rttvar_us();
  out.tcpi_snd_cwnd = in.snd_cwnd();
  out.tcpi_snd_ssthresh = in.snd_ssthresh();
  out.tcpi_snd_mss = in.snd_mss();
  out.tcpi_rcv_mss = in.rcv_mss();
  out.tcpi_advmss = in.snd_mss();
  out.tcpi_unacked = in.unacked();
  out.tcpi_total_retrans = in.total_retrans();
  out.tcpi_bytes_acked = in.bytes_acked();
  out.tcpi_bytes_received = in.bytes_received();
  out.tcpi_segs_in = in.segs_in();
  out.tcpi_segs_out = in.segs_out();
  const socklen_t n = std::min<socklen_t>(*len, sizeof(out));
  if (n > 0 && value == nullptr) return EFAULT;
  if (n > 0) std::memcpy(value, &out, n);
  *len = n;
  return 0;
}

}  // namespace stackd::client
