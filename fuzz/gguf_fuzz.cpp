// libFuzzer target: arbitrary bytes into the GGUF reader. A file that parses must satisfy the
// reader's invariants and survive a write/read round trip unchanged; a file that does not parse
// must fail with ErrorCode::Format only.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_format.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "stagefence/error.hpp"

namespace sg = stagefence::gguf;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The bit pattern of a number (floats included, so NaN and out-of-range values are fine).
template <typename T>
uint64_t bits_of(T v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}

// Reads every byte of every value and tensor and checks what the reader promises about them.
uint64_t touch_everything(const sg::GgufFile& f) {
  uint64_t sum = f.version() + f.alignment();
  const std::byte* begin = f.bytes().data();
  const std::byte* end = begin + f.bytes().size();
  for (const sg::MetadataEntry& m : f.metadata()) {
    check(f.find(m.key) == &m.value);
    sum += m.value.type_name().size() + m.value.array_size();
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string>) {
            for (char c : v) sum += uint8_t(c);
          } else if constexpr (sg::IsElementVector<V>::value) {
            for (const auto& item : v) {
              if constexpr (std::is_same_v<typename V::value_type, std::string>) {
                sum += item.size();
              } else {
                sum += bits_of<typename V::value_type>(item);
              }
            }
          } else {
            sum += bits_of(v);
          }
        },
        m.value.storage());
  }
  for (const sg::TensorView& t : f.tensors()) {
    check(f.find_tensor(t.name) == &t);
    check(!t.dims.empty() && t.dims.size() <= sg::kMaxDims);
    uint64_t n = 1;
    for (uint64_t d : t.dims) n *= d;
    check(n == t.n_elements);
    check(stagefence::dtype_bytes(t.dtype, t.n_elements) == t.n_bytes);
    check(t.offset % f.alignment() == 0);
    check(t.data >= begin + f.data_offset() && t.data <= end &&
          t.n_bytes <= uint64_t(end - t.data));
    for (std::byte b : t.bytes()) sum += uint8_t(b);
  }
  return sum;
}

// The parsed content, written again by the writer.
std::vector<std::byte> rewrite(const sg::GgufFile& f) {
  sg::GgufWriter w(f.alignment());
  for (const sg::MetadataEntry& m : f.metadata())
    if (m.key != sg::kAlignmentKey) w.add(m.key, m.value);
  for (const sg::TensorView& t : f.tensors()) w.add_tensor(t.name, t.dtype, t.dims, t.bytes());
  return w.to_bytes();
}

// Writing the parsed content and reading it back gives the same content. Values are compared
// through their encodings, since float values may be NaN.
void check_round_trip(const sg::GgufFile& f) {
  uint64_t total = 0;
  for (const sg::TensorView& t : f.tensors()) total += t.n_bytes;
  if (total > (1u << 20)) return;  // keep iterations fast
  std::vector<std::byte> written = rewrite(f);
  sg::GgufFile again = sg::GgufFile::from_bytes(written);
  check(rewrite(again) == written);
  // The writer records general.alignment only when it is not the default, so a file that
  // states the default comes back without that key: the alignment itself must be the same.
  check(again.alignment() == f.alignment());
  const auto entries_besides_alignment = [](const sg::GgufFile& g) {
    return g.metadata().size() - (g.find(sg::kAlignmentKey) ? 1 : 0);
  };
  check(entries_besides_alignment(again) == entries_besides_alignment(f));
  for (const sg::MetadataEntry& m : f.metadata())
    check(m.key == sg::kAlignmentKey ||
          (again.find(m.key) && again.find(m.key)->type_name() == m.value.type_name()));
  check(again.tensors().size() == f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const sg::TensorView& a = f.tensors()[i];
    const sg::TensorView& b = again.tensors()[i];
    check(a.name == b.name && a.dtype == b.dtype && a.dims == b.dims && a.n_bytes == b.n_bytes);
    check(std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    sg::GgufFile f = sg::GgufFile::from_memory(bytes);
    volatile uint64_t sink = touch_everything(f);
    (void)sink;
    check_round_trip(f);
  } catch (const stagefence::Error& e) {
    check(e.code() == stagefence::ErrorCode::Format);
  }
  return 0;
}
