#include "stackctl/render.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace stackd::stackctl {
namespace {

// Rows of cells as columns two spaces apart, each as wide as its widest
// cell (the last one not padded).
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 == row.size()) {
        absl::StrAppend(&out, row[i]);
      } else {
        absl::StrAppend(&out, row[i], std::string(width[i] - row[i].size() + 2, ' '));
      }
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string Uptime(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

}  // namespace

std::string RenderStack(const admin::v1::Stack& stack) {
  std::string out = absl::StrCat("stack ", stack.path(), "  stackd ", stack.version(),
                                 ", lwIP ", stack.lwip_version(), ", up ",
                                 Uptime(stack.uptime_seconds()), "\n");
  for (const admin::v1::Interface& nif : stack.interfaces()) {
    absl::StrAppend(&out, nif.name(), ": <", nif.up() ? "UP" : "DOWN", "> mtu ", nif.mtu(),
                    " ", nif.kind());
    if (!nif.mac().empty()) absl::StrAppend(&out, " link ", nif.mac());
    if (!nif.netns().empty()) absl::StrAppend(&out, " netns ", nif.netns());
    absl::StrAppend(&out, "\n");
    for (const std::string& address : nif.addresses()) {
      absl::StrAppend(&out, "    ", address.find(':') == std::string::npos ? "inet " : "inet6 ",
                      address, "\n");
    }
  }
  if (stack.routes_size() > 0) {
    absl::StrAppend(&out, "routes:\n");
    for (const admin::v1::Route& r : stack.routes()) {
      absl::StrAppend(&out, "    ", r.destination());
      if (!r.gateway().empty()) absl::StrAppend(&out, " via ", r.gateway());
      if (!r.interface().empty()) absl::StrAppend(&out, " dev ", r.interface());
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

std::string RenderSockets(const std::vector<admin::v1::Socket>& sockets, bool details) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"Id", "Netid", "State", "Local", "Peer", "Process"};
  if (details) {
    for (const char* h : {"BytesIn", "BytesOut", "RecvQ", "SendQ", "Dropped"}) header.push_back(h);
  }
  rows.push_back(header);
  for (const admin::v1::Socket& s : sockets) {
    std::vector<std::string> row = {
        absl::StrCat(s.id()),
        s.protocol(),
        s.state(),
        s.local().empty() ? "*" : absl::StrJoin(s.local(), ","),
        s.remote().empty() ? "*" : s.remote(),
        absl::StrCat("pid=", s.owner_pid(), ",uid=", s.owner_uid()),
    };
    if (details) {
      for (uint64_t v : {s.bytes_in(), s.bytes_out(), s.rx_queued(), s.tx_queued(),
                         s.rx_dropped()}) {
        row.push_back(absl::StrCat(v));
      }
    }
    rows.push_back(std::move(row));
  }
  return Table(rows);
}

std::string RenderJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}\n";
  return json + "\n";
}

}  // namespace stackd::stackctl
