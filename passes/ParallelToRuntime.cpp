//===- ParallelToRuntime.cpp - work-item loops -> runtime-driven ranges ---===//
#include "passes/FlashEmitter.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include "mlir/IR/SymbolTable.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNPARALLELTORUNTIME
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr const char *kWorkItemsAttr = "attn.work_items";

/// Moves the work-item body into `loop` (whose body is empty) and erases
/// the forall. Items now run one after another in one call, so their
/// fixed-size scratch moves to the function entry: allocated once per call
/// (per thread), never growing the stack item by item.
void moveBody(scf::ForallOp forall, scf::ForOp loop) {
  Block *body = forall.getBody();
  body->getTerminator()->erase();
  loop.getBody()->getOperations().splice(loop.getBody()->begin(),
                                         body->getOperations());
  forall.getInductionVar(0).replaceAllUsesWith(loop.getInductionVar());
  forall.erase();

  auto func = loop->getParentOfType<func::FuncOp>();
  Block &entry = func.getBody().front();
  SmallVector<memref::AllocaOp> scratch;
  loop.walk([&](memref::AllocaOp alloca) {
    if (alloca.getType().hasStaticShape() && alloca->getNumOperands() == 0)
      scratch.push_back(alloca);
  });
  for (memref::AllocaOp alloca : scratch)
    alloca->moveBefore(&entry, entry.begin());
  // Scopes left without allocations release nothing: inline them.
  SmallVector<memref::AllocaScopeOp> scopes;
  loop.walk([&](memref::AllocaScopeOp scope) { scopes.push_back(scope); });
  for (memref::AllocaScopeOp scope : scopes) {
    bool hasAlloca = false;
    scope.walk([&](memref::AllocaOp) { hasAlloca = true; });
    if (hasAlloca)
      continue;
    Block &inner = scope.getBodyRegion().front();
    inner.getTerminator()->erase();
    scope->getBlock()->getOperations().splice(Block::iterator(scope),
                                              inner.getOperations());
    scope.erase();
  }
}

/// Replaces the work-item loop by a sequential loop over all its items.
void runInOrder(scf::ForallOp forall) {
  OpBuilder b(forall);
  Location loc = forall.getLoc();
  int64_t items = cast<IntegerAttr>(forall->getAttr(kWorkItemsAttr)).getInt();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value count = arith::ConstantIndexOp::create(b, loc, items);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  moveBody(forall, scf::ForOp::create(b, loc, zero, count, one));
}

/// `@<name>() -> index` returning `value`, after `after`.
func::FuncOp constantFunc(OpBuilder &b, func::FuncOp after, StringRef name,
                          int64_t value) {
  OpBuilder::InsertionGuard guard(b);
  Location loc = after.getLoc();
  b.setInsertionPointAfter(after);
  auto fn = func::FuncOp::create(b, loc, name,
                                 b.getFunctionType({}, {b.getIndexType()}));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  b.setInsertionPointToStart(fn.addEntryBlock());
  func::ReturnOp::create(
      b, loc, ValueRange{arith::ConstantIndexOp::create(b, loc, value)});
  return fn;
}

/// A kernel whose items run on the runtime's threads cannot allocate its
/// split-KV scratch itself (each call covers some items only): the
/// allocation becomes a trailing `memref<?xi8>` argument, which the runtime
/// allocates zeroed per run with work items × the returned bytes per item
/// (0: no scratch argument), and its counter fill and dealloc go.
FailureOr<int64_t> takeSplitScratch(func::FuncOp func) {
  SmallVector<memref::AllocOp> allocs;
  SmallVector<Operation *> helpers;
  func.walk([&](Operation *op) {
    if (!op->hasAttr(kSplitScratchAttr))
      return;
    if (auto alloc = dyn_cast<memref::AllocOp>(op))
      allocs.push_back(alloc);
    else
      helpers.push_back(op);
  });
  if (allocs.empty())
    return 0;
  if (allocs.size() > 1)
    return func.emitOpError("a kernel handed to the runtime holds ")
           << allocs.size() << " split-KV scratch allocations; expected one";
  memref::AllocOp alloc = allocs.front();
  auto perItem = dyn_cast<IntegerAttr>(alloc->getAttr(kSplitScratchAttr));
  if (!perItem || alloc->getParentOp() != func)
    return alloc.emitOpError("split-KV scratch must sit in the function "
                             "body and carry its bytes per work item");
  for (Operation *op : helpers)
    op->erase();
  unsigned n = func.getNumArguments();
  if (failed(func.insertArgument(n, alloc.getType(), {}, alloc.getLoc())))
    return func.emitOpError("could not add the scratch argument");
  alloc.getResult().replaceAllUsesWith(func.getArgument(n));
  alloc.erase();
  return perItem.getInt();
}

LogicalResult convertKernel(func::FuncOp func, scf::ForallOp forall,
                            SymbolTable &symbols) {
  if (!forall.getOutputs().empty() || forall.getRank() != 1)
    return forall.emitOpError("attn work-item loop must be 1-D and write "
                              "buffers (run after bufferization)");
  if (forall->getParentOp() != func)
    return forall.emitOpError("attn work-item loop must sit directly in its "
                              "function body");
  auto uses = SymbolTable::getSymbolUses(func, func->getParentOp());
  if (uses && !uses->empty())
    return func.emitOpError("a kernel with a work-item loop cannot have "
                            "callers: the runtime calls it with ranges");
  int64_t items = cast<IntegerAttr>(forall->getAttr(kWorkItemsAttr)).getInt();

  OpBuilder b(func.getContext());
  Location loc = forall.getLoc();
  Type index = b.getIndexType();
  // A kernel that returns what it computed (rather than writing into its
  // arguments) cannot be split into ranges: each call would compute into a
  // buffer of its own. Run its items in order instead.
  if (func.getNumResults() != 0) {
    runInOrder(forall);
    return success();
  }
  FailureOr<int64_t> scratchPerItem = takeSplitScratch(func);
  if (failed(scratchPerItem))
    return failure();
  unsigned n = func.getNumArguments();
  if (failed(func.insertArgument(n, index, {}, loc)) ||
      failed(func.insertArgument(n + 1, index, {}, loc)))
    return func.emitOpError("could not add work-item range arguments");
  Value begin = func.getArgument(n), end = func.getArgument(n + 1);

  b.setInsertionPoint(forall);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  moveBody(forall, scf::ForOp::create(b, loc, begin, end, one));

  // @<kernel>_work_items() -> index: how many items [0, N) the runtime
  // spreads over its threads.
  symbols.insert(
      constantFunc(b, func, (func.getSymName() + "_work_items").str(), items));
  if (*scratchPerItem > 0)
    symbols.insert(constantFunc(
        b, func, (func.getSymName() + "_scratch_bytes_per_item").str(),
        *scratchPerItem));
  return success();
}

struct ParallelToRuntimePass
    : attn::impl::AttnParallelToRuntimeBase<ParallelToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<std::pair<func::FuncOp, scf::ForallOp>> kernels;
    for (auto func : module.getOps<func::FuncOp>()) {
      SmallVector<scf::ForallOp> loops;
      func.walk([&](scf::ForallOp f) {
        if (f->hasAttr(kWorkItemsAttr))
          loops.push_back(f);
      });
      if (loops.size() > 1) {
        // Several attention ops in one function (e.g. append then decode):
        // their order matters, so each runs its items in order, in one call.
        for (scf::ForallOp forall : loops)
          runInOrder(forall);
        continue;
      }
      if (!loops.empty())
        kernels.push_back({func, loops.front()});
    }
    for (auto [func, forall] : kernels)
      if (failed(convertKernel(func, forall, symbols)))
        return signalPassFailure();
  }
};

} // namespace
