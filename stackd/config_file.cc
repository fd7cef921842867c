#include "stackd/config_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "proto/stackd_config.pb.h"

namespace stackd {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;

// The parser's first complaint, with its place in the file.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, message);  // Nothing in a config file is "just" a warning.
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

std::string ValueOf(const config::v1::StackdConfig& c, const Reflection* r,
                    const FieldDescriptor* f, int index) {
  const bool repeated = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return repeated ? r->GetRepeatedString(c, f, index) : r->GetString(c, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(repeated ? r->GetRepeatedInt32(c, f, index) : r->GetInt32(c, f));
    default:
      return "";  // The message has no other kinds of field.
  }
}

}  // namespace

absl::StatusOr<std::vector<FileFlag>> ReadConfigFile(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat("--config: cannot read ", file));
  }
  std::stringstream text;
  text << in.rdbuf();

  config::v1::StackdConfig c;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  google::protobuf::TextFormat::ParseInfoTree where;
  parser.WriteLocationsTo(&where);
  if (!parser.ParseFromString(text.str(), &c)) {
    return absl::InvalidArgumentError(absl::StrCat(file, ":", errors.error()));
  }

  std::vector<FileFlag> flags;
  const Descriptor* d = c.GetDescriptor();
  const Reflection* r = c.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string name = absl::StrReplaceAll(f->name(), {{"_", "-"}});
    const int count = f->is_repeated() ? r->FieldSize(c, f) : (r->HasField(c, f) ? 1 : 0);
    for (int k = 0; k < count; ++k) {
      const int index = f->is_repeated() ? k : -1;
      flags.push_back({name, ValueOf(c, r, f, k), where.GetLocation(f, index).line + 1});
    }
  }
  return flags;
}

}  // namespace stackd
