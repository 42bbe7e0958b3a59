//===- ConvertSafetensorsTest.cpp - safetensors reader and writer ---------===//

#include "runtime/convert/Safetensors.h"
#include "test/unit/RuntimeTestUtils.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cstring>
#include <random>

using namespace mlir::attn;
using attn_test::errorOf;

namespace {

/// A file image: little-endian header length, header, buffer.
std::string image(const std::string &header, const std::string &buffer) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + buffer;
}

std::string floatsLE(std::initializer_list<float> values) {
  std::string out;
  for (float f : values) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; ++i)
      out += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  return out;
}

st::Tensor tensor(const std::string &name, st::DType dtype,
                  std::vector<int64_t> shape, std::mt19937_64 &rng) {
  st::Tensor t{name, dtype, shape, {}};
  t.data.resize(t.numElements() * st::dtypeBytes(dtype));
  if (st::isConvertibleFloat(dtype)) {
    std::normal_distribution<double> dist;
    for (int64_t i = 0; i < t.numElements(); ++i)
      t.set(i, dist(rng));
  } else {
    for (uint8_t &b : t.data)
      b = static_cast<uint8_t>(rng());
  }
  return t;
}

TEST(Safetensors, RoundTripAllDTypes) {
  uint64_t seed = attn_test::testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  st::File file;
  file.metadata = {{"format", "pt"}, {"note", "quote \" and \\ survive"}};
  int i = 0;
  for (st::DType t : {st::DType::F32, st::DType::F16, st::DType::BF16,
                      st::DType::F64, st::DType::I64, st::DType::U8,
                      st::DType::Bool, st::DType::I8, st::DType::F8E4M3}) {
    file.tensors.push_back(
        tensor("t" + std::to_string(i), t, {3, i % 4 + 1}, rng));
    ++i;
  }
  file.tensors.push_back(tensor("empty", st::DType::F32, {0, 5}, rng));
  file.tensors.push_back(tensor("scalar", st::DType::F32, {}, rng));

  std::string bytes = llvm::cantFail(st::serialize(file));
  uint64_t headerBytes = 0;
  std::memcpy(&headerBytes, bytes.data(), 8);
  EXPECT_EQ(headerBytes % 8, 0u) << "buffer must be 8-byte aligned";
  st::File back = llvm::cantFail(st::parse(bytes, "roundtrip"));
  EXPECT_EQ(back.metadata, file.metadata);
  ASSERT_EQ(back.tensors.size(), file.tensors.size());
  for (size_t j = 0; j < file.tensors.size(); ++j) {
    EXPECT_EQ(back.tensors[j].name, file.tensors[j].name);
    EXPECT_EQ(back.tensors[j].dtype, file.tensors[j].dtype);
    EXPECT_EQ(back.tensors[j].shape, file.tensors[j].shape);
    EXPECT_EQ(back.tensors[j].data, file.tensors[j].data);
  }
  // Through the file system as well.
  llvm::SmallString<128> path;
  llvm::sys::fs::createUniquePath("attn-st-%%%%%%.safetensors", path,
                                  /*MakeAbsolute=*/true);
  ASSERT_FALSE(st::writeFile(file, path));
  st::File disk = llvm::cantFail(st::readFile(path));
  EXPECT_EQ(disk.tensors.size(), file.tensors.size());
  EXPECT_EQ(disk.find("t2")->data, file.find("t2")->data);
  llvm::sys::fs::remove(path);
}

// The layout Python's safetensors.torch.save_file writes for
//   {"a": torch.tensor([1., 2.]), "b": torch.tensor([[3., 4., 5.]])}
// with metadata {"format": "pt"}: compact JSON, tensors in order, the
// header padded with spaces to a multiple of 8, little-endian data.
TEST(Safetensors, ReadsPythonLayout) {
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[1,3],"data_offsets":[8,20]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes = image(header, floatsLE({1, 2, 3, 4, 5}));
  st::File f = llvm::cantFail(st::parse(bytes, "python.safetensors"));
  EXPECT_EQ(f.metadata.at("format"), "pt");
  ASSERT_EQ(f.tensors.size(), 2u);
  const st::Tensor *a = f.find("a"), *b = f.find("b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(b->shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(a->get(0), 1.0);
  EXPECT_EQ(a->get(1), 2.0);
  EXPECT_EQ(b->get(2), 5.0);
  // Tensors listed out of buffer order in the JSON are ordered by offset.
  std::string swapped =
      R"({"b":{"dtype":"F32","shape":[1,3],"data_offsets":[8,20]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  st::File g = llvm::cantFail(
      st::parse(image(swapped, floatsLE({1, 2, 3, 4, 5})), "swapped"));
  EXPECT_EQ(g.tensors[0].name, "a");
  // f16 and bf16 bytes: 1.0 is 0x3c00 and 0x3f80.
  std::string half =
      R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
      R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}})";
  st::File h = llvm::cantFail(
      st::parse(image(half, std::string("\x00\x3c\x80\x3f", 4)), "half"));
  EXPECT_EQ(h.find("h")->get(0), 1.0);
  EXPECT_EQ(h.find("b")->get(0), 1.0);
}

std::string parseError(const std::string &bytes) {
  return errorOf(st::parse(bytes, "bad.safetensors"));
}

std::string entry(const std::string &body) {
  return image("{\"x\":" + body + "}", floatsLE({1, 2}));
}

TEST(Safetensors, MalformedFiles) {
  const char *ok = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  auto baseline = st::parse(entry(ok), "good");
  ASSERT_TRUE(bool(baseline)) << llvm::toString(baseline.takeError());
  EXPECT_NE(parseError("abc").find("truncated: 3 bytes"), std::string::npos);
  // Header length past the end, and absurdly large.
  std::string big = image("{}", "");
  big[0] = 100;
  EXPECT_NE(parseError(big).find("header length 100 exceeds the 2 bytes"),
            std::string::npos);
  std::string huge = image("{}", "");
  huge[7] = 0x7f;
  EXPECT_NE(parseError(huge).find("exceeds"), std::string::npos);
  EXPECT_NE(parseError(image("[1]", "")).find("does not start with '{'"),
            std::string::npos);
  EXPECT_NE(parseError(image("{\"x\":", "")).find("not valid JSON"),
            std::string::npos);
  struct Case {
    const char *body, *message;
  } cases[] = {
      {"3", "entry is not a JSON object"},
      {R"({"shape":[2],"data_offsets":[0,8]})", "missing string 'dtype'"},
      {R"({"dtype":"F33","shape":[2],"data_offsets":[0,8]})",
       "unknown dtype 'F33'"},
      {R"({"dtype":"F32","data_offsets":[0,8]})", "missing array 'shape'"},
      {R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})",
       "negative dimension"},
      {R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,8]})", "non-integer"},
      {R"({"dtype":"F32","shape":[4294967296,4294967296,4],)"
       R"("data_offsets":[0,8]})",
       "overflows"},
      {R"({"dtype":"F32","shape":[2]})", "missing 'data_offsets'"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0]})",
       "missing 'data_offsets'"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})",
       "0 <= begin <= end"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})",
       "run past the 8-byte data buffer (truncated file?)"},
      {R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})",
       "8 bytes, but F32 x shape needs 12"},
      {R"({"dtype":"F16","shape":[2],"data_offsets":[0,4]})",
       "4 bytes after the last tensor"},
      {R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})",
       "leaves a gap after the previous tensor ending at 0"},
  };
  for (const Case &c : cases) {
    std::string msg = parseError(entry(c.body));
    EXPECT_NE(msg.find(c.message), std::string::npos)
        << c.body << " gave: " << msg;
    EXPECT_EQ(msg.rfind("bad.safetensors: ", 0), 0u) << msg;
  }
  // Overlap between two tensors.
  std::string overlap =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_NE(parseError(image(overlap, floatsLE({1, 2}))).find("overlaps"),
            std::string::npos);
  // Metadata must be an object of strings.
  EXPECT_NE(parseError(image(R"({"__metadata__":[1]})", ""))
                .find("__metadata__ is not a JSON object"),
            std::string::npos);
  EXPECT_NE(parseError(image(R"({"__metadata__":{"k":1}})", ""))
                .find("value of 'k' is not a string"),
            std::string::npos);
  // A truncated copy of a good file names the truncation.
  std::string good = entry(ok);
  EXPECT_NE(parseError(good.substr(0, good.size() - 1)).find("truncated"),
            std::string::npos);
}

// Corrupted images (random byte flips, mostly in the header, and random
// truncations) must parse or fail cleanly, never crash; whatever parses
// must serialize and parse again to the same tensors.
TEST(Safetensors, CorruptionNeverCrashes) {
  uint64_t seed = attn_test::testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  st::File file;
  file.metadata = {{"format", "pt"}};
  file.tensors = {tensor("a.k_proj.weight", st::DType::F16, {4, 3}, rng),
                  tensor("b", st::DType::F32, {2}, rng),
                  tensor("c", st::DType::BF16, {3, 1}, rng)};
  const std::string good = llvm::cantFail(st::serialize(file));
  uint64_t headerEnd = 0;
  std::memcpy(&headerEnd, good.data(), 8);
  headerEnd += 8;
  int parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bad = good;
    if (iter % 5 == 0) {
      bad.resize(rng() % good.size());
    } else {
      for (int flips = 1 + rng() % 3; flips > 0; --flips) {
        size_t at = rng() % (iter % 2 ? headerEnd : good.size());
        bad[at] = static_cast<char>(rng());
      }
    }
    auto f = st::parse(bad, "fuzz");
    if (!f) {
      llvm::consumeError(f.takeError());
      continue;
    }
    ++parsed;
    auto again = st::parse(llvm::cantFail(st::serialize(*f)), "again");
    ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
    ASSERT_EQ(again->tensors.size(), f->tensors.size());
    for (size_t i = 0; i < f->tensors.size(); ++i)
      ASSERT_EQ(again->tensors[i].data, f->tensors[i].data);
  }
  // Flips in the data bytes leave a valid file: some must have parsed.
  EXPECT_GT(parsed, 0);
}

TEST(Safetensors, SerializeAndFileErrors) {
  std::mt19937_64 rng(1);
  st::File dup;
  dup.tensors = {tensor("w", st::DType::F32, {2}, rng),
                 tensor("w", st::DType::F32, {2}, rng)};
  EXPECT_NE(errorOf(st::serialize(dup)).find("duplicate tensor name 'w'"),
            std::string::npos);
  st::File wrong;
  wrong.tensors = {tensor("w", st::DType::F32, {2}, rng)};
  wrong.tensors[0].shape = {3};
  EXPECT_NE(errorOf(st::serialize(wrong)).find("does not match dtype x shape"),
            std::string::npos);
  st::File unnamed;
  unnamed.tensors = {tensor("__metadata__", st::DType::F32, {2}, rng)};
  EXPECT_NE(errorOf(st::serialize(unnamed)).find("invalid tensor name"),
            std::string::npos);

  EXPECT_NE(
      errorOf(st::readFile("/nonexistent/x.safetensors")).find("cannot read"),
      std::string::npos);
  // A write that cannot happen leaves no file behind.
  EXPECT_NE(errorOf(st::writeFile(wrong, "/tmp/attn-never.safetensors"))
                .find("does not match"),
            std::string::npos);
  EXPECT_FALSE(llvm::sys::fs::exists("/tmp/attn-never.safetensors"));
  EXPECT_NE(
      errorOf(st::writeFile(st::File{}, "/nonexistent/dir/out.safetensors"))
          .find("cannot write"),
      std::string::npos);
}

} // namespace
