// stackd's version, reported by the admin service and --version.
#ifndef STACKD_VERSION_H_
#define STACKD_VERSION_H_

namespace stackd {
inline constexpr char kStackdVersion[] = "0.1.0";
}  // namespace stackd

#endif  // STACKD_VERSION_H_
