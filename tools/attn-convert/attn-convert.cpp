//===- attn-convert.cpp - MHA -> GQA/MQA checkpoint conversion ------------===//
//
//   attn-convert --heads=H --groups=G [--head-dim=D] in.safetensors
//                -o out.safetensors [--k-weight=GLOB] [--v-weight=GLOB]
//                [--k-bias=GLOB] [--v-bias=GLOB]
//
// Mean-pools the K/V projection heads of every tensor the patterns match
// (default: the Hugging Face *k_proj / *v_proj names) into G groups and
// copies every other tensor unchanged. Errors are one line on stderr with
// exit status 1; the output is written to a temporary file renamed into
// place, so a failed run leaves no output file.
//
//===----------------------------------------------------------------------===//

#include "runtime/convert/Uptrain.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir::attn;
namespace cl = llvm::cl;

namespace {
cl::OptionCategory category("attn-convert options");
cl::opt<std::string> input(cl::Positional, cl::desc("<in.safetensors>"),
                           cl::Required, cl::cat(category));
cl::opt<std::string> output("o", cl::desc("Output .safetensors file"),
                            cl::value_desc("path"), cl::Required,
                            cl::cat(category));
cl::opt<int64_t> heads("heads", cl::desc("KV heads of the checkpoint (H)"),
                       cl::Required, cl::cat(category));
cl::opt<int64_t> groups("groups",
                        cl::desc("KV heads after conversion (G; H % G == 0, "
                                 "1 = MQA)"),
                        cl::Required, cl::cat(category));
cl::opt<int64_t> headDim("head-dim",
                         cl::desc("Head dimension D (checked; default: rows "
                                  "/ H)"),
                         cl::init(0), cl::cat(category));
cl::opt<std::string> kWeight("k-weight", cl::desc("Glob of K weights"),
                             cl::value_desc("glob"), cl::cat(category));
cl::opt<std::string> vWeight("v-weight", cl::desc("Glob of V weights"),
                             cl::value_desc("glob"), cl::cat(category));
cl::opt<std::string> kBias("k-bias",
                           cl::desc("Glob of K biases (given: required)"),
                           cl::value_desc("glob"), cl::cat(category));
cl::opt<std::string> vBias("v-bias",
                           cl::desc("Glob of V biases (given: required)"),
                           cl::value_desc("glob"), cl::cat(category));

int fail(llvm::Error e) {
  std::string msg = llvm::toString(std::move(e));
  // One line: nested messages (JSON parse errors) may carry newlines.
  for (char &c : msg)
    if (c == '\n')
      c = ' ';
  llvm::errs() << "attn-convert: error: " << msg << "\n";
  return 1;
}

/// The default patterns, each overridden by its option when given; a given
/// bias pattern must match (the user asked for it).
std::vector<convert::TensorPattern> patterns() {
  std::vector<convert::TensorPattern> out =
      convert::ConvertOptions::defaultPatterns();
  for (convert::TensorPattern &p : out) {
    cl::opt<std::string> *opt = p.role == "k-weight"   ? &kWeight
                                : p.role == "v-weight" ? &vWeight
                                : p.role == "k-bias"   ? &kBias
                                                       : &vBias;
    if (opt->getNumOccurrences()) {
      p.glob = *opt;
      p.required = true;
    }
  }
  return out;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "MHA -> GQA/MQA conversion of safetensors "
                              "checkpoints (mean of each group's K/V heads)\n");
  llvm::Expected<st::File> file = st::readFile(input);
  if (!file)
    return fail(file.takeError());
  convert::ConvertOptions options;
  options.pooling = {heads, groups, headDim};
  options.patterns = patterns();
  auto pooled = convert::convertCheckpoint(*file, options);
  if (!pooled)
    return fail(pooled.takeError());
  if (llvm::Error e = st::writeFile(*file, output))
    return fail(std::move(e));
  llvm::outs() << "attn-convert: pooled " << pooled->size() << " of "
               << file->tensors.size() << " tensors from " << heads << " to "
               << groups << " KV heads\n";
  for (const std::string &name : *pooled)
    llvm::outs() << "  " << name << "\n";
  return 0;
}
