//===- SanitizedParseTest.cpp - our storages in libMLIR's allocator -------===//
//
// Under ATTN_SANITIZE (scripts/sanitize.sh): storages built by our
// ASan-instrumented code (as ODS-generated attribute storages such as
// #attn.mask are) open slabs of the context's allocator, then the parser
// (libMLIR, not instrumented) allocates locations and strings from them
// while it reports a malformed attn.cache_append (undefined %k used with
// two types). Without cmake/AttnAsanDefaults.cpp (allow_user_poisoning=0)
// ASan aborts here with a use-after-poison under FileLineColRange::get, the
// libFuzzer finding of docs/reliability.md ("ASan with Debian's
// uninstrumented LLVM/MLIR"). Elsewhere it checks the parser's diagnostic.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/StorageUniquer.h"

#include "gtest/gtest.h"

#include <string>

using namespace mlir;

namespace {

/// A storage constructed in this translation unit: its allocation runs
/// the instrumented copy of llvm::BumpPtrAllocator's inline code, which
/// poisons every slab it opens.
struct InstrumentedStorage : StorageUniquer::BaseStorage {
  using KeyTy = int64_t;
  explicit InstrumentedStorage(int64_t value) : value(value) {}
  bool operator==(const KeyTy &key) const { return key == value; }
  static InstrumentedStorage *construct(StorageUniquer::StorageAllocator &a,
                                        const KeyTy &key) {
    return new (a.allocate<InstrumentedStorage>()) InstrumentedStorage(key);
  }
  int64_t value;
};
struct InstrumentedStorageTag {};

TEST(SanitizedParse, InstrumentedStoragesShareContextSlabs) {
  DialectRegistry registry;
  registry.insert<attn::AttnDialect, func::FuncDialect>();
  MLIRContext ctx(registry, MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  StorageUniquer &uniquer = ctx.getAttributeUniquer();
  TypeID id = TypeID::get<InstrumentedStorageTag>();
  uniquer.registerParametricStorageType<InstrumentedStorage>(id);
  // 1,000 storages (24 bytes each) open several 4 KiB slabs; 300 were
  // enough for the report.
  for (int64_t i = 0; i < 1000; ++i)
    uniquer.get<InstrumentedStorage>({}, id, int64_t(i));

  std::string diagnostics;
  ScopedDiagnosticHandler capture(&ctx, [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });
  const char *text = R"(func.func @f() {
  attn.cache_append %k, %k into %kc, %kc lengths(%len)
      : memref<4x8x3x128xf32>, memref<4x8x3x128xf16>
        into memref<4x8x4096x128xbf16>, memref<4x8x4096x128xbf16>, memref<4xi32>
  return
}
)";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &ctx);
  EXPECT_FALSE(module);
  EXPECT_NE(diagnostics.find("use of value '%k' expects different type than "
                             "prior uses"),
            std::string::npos)
      << diagnostics;
}

} // namespace
