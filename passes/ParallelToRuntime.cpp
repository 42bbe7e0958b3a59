//===- ParallelToRuntime.cpp - work-item loops -> runtime-driven ranges ---===//
//
// The kernel's work-item loop becomes a loop over [begin, end) arguments,
// so the runtime can spread the items over its threads, and the kernel's
// module exports how many items there are (and how many split-KV scratch
// bytes a call needs): constants `@<k>_work_items()` and
// `@<k>_scratch_bytes_per_item()` for static sizes, or, for run-time
// sizes, `@<k>_work_items(buffers...)` and `@<k>_scratch_bytes(buffers...)`
// taking the kernel's buffers and recomputing the counts from them (a
// clone of the computation that bounds the loop in the kernel).
//
//===----------------------------------------------------------------------===//
#include "passes/FlashEmitter.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNPARALLELTORUNTIME
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

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
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  OpFoldResult bound = forall.getMixedUpperBound()[0];
  Value count =
      isa<Value>(bound)
          ? cast<Value>(bound)
          : arith::ConstantIndexOp::create(b, loc, *getConstantIntValue(bound));
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

/// Collects, defs first, the ops computing `v` in `kernel`'s body from its
/// arguments. Fails at the first op that could not be recomputed outside
/// the kernel: one with memory effects or regions, or nested deeper.
LogicalResult collectSlice(Value v, func::FuncOp kernel,
                           llvm::SetVector<Operation *> &ops) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (arg.getOwner() == &kernel.getBody().front())
      return success();
    return emitError(arg.getLoc(), "a run-time work-item or scratch size "
                                   "depends on a block argument other than "
                                   "the kernel's");
  }
  Operation *op = v.getDefiningOp();
  if (ops.contains(op))
    return success();
  if (op->getParentOp() != kernel || op->getNumRegions() != 0 ||
      !isMemoryEffectFree(op))
    return op->emitOpError("computes a run-time work-item or scratch size but "
                           "has memory effects or regions; "
                           "attn-parallel-to-runtime cannot export it");
  for (Value operand : op->getOperands())
    if (failed(collectSlice(operand, kernel, ops)))
      return failure();
  ops.insert(op);
  return success();
}

/// `@<name>(buffers of kernel) -> index` returning `value` (computed in
/// `kernel`'s body from its arguments), after `kernel`.
FailureOr<func::FuncOp> sizeFunc(OpBuilder &b, func::FuncOp kernel,
                                 StringRef name, Value value) {
  llvm::SetVector<Operation *> slice;
  if (failed(collectSlice(value, kernel, slice)))
    return failure();
  OpBuilder::InsertionGuard guard(b);
  Location loc = kernel.getLoc();
  b.setInsertionPointAfter(kernel);
  auto fn = func::FuncOp::create(
      b, loc, name,
      b.getFunctionType(kernel.getArgumentTypes(), {b.getIndexType()}));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping map;
  map.map(kernel.getArguments(), entry->getArguments());
  for (Operation *op : slice)
    b.clone(*op, map);
  func::ReturnOp::create(b, loc, ValueRange{map.lookupOrDefault(value)});
  return fn;
}

/// A kernel whose items run on the runtime's threads cannot allocate its
/// split-KV scratch itself (each call covers some items only): the
/// allocation becomes a trailing `memref<?xi8>` argument, which the runtime
/// allocates zeroed per run, and its counter fill and dealloc go. Returns
/// the bytes per work item (0: no scratch argument). With run-time sizes
/// (`exportBytes`), first exports `@<k>_scratch_bytes(buffers...)`: the
/// allocation's size, which may be 0.
FailureOr<int64_t> takeSplitScratch(func::FuncOp func, bool exportBytes,
                                    SymbolTable &symbols) {
  SmallVector<memref::AllocOp> allocs;
  SmallVector<Operation *> helpers;
  AttnDialect::SplitScratchAttrHelper scratchAttr(func.getContext());
  AttnDialect::SplitScratchUseAttrHelper useAttr(func.getContext());
  func.walk([&](Operation *op) {
    if (auto alloc = dyn_cast<memref::AllocOp>(op);
        alloc && scratchAttr.isAttrPresent(alloc))
      allocs.push_back(alloc);
    else if (useAttr.isAttrPresent(op))
      helpers.push_back(op);
  });
  if (allocs.empty())
    return 0;
  if (allocs.size() > 1)
    return func.emitOpError("a kernel handed to the runtime holds ")
           << allocs.size() << " split-KV scratch allocations; expected one";
  memref::AllocOp alloc = allocs.front();
  IntegerAttr perItem = scratchAttr.getAttr(alloc);
  if (alloc->getParentOp() != func)
    return alloc.emitOpError("split-KV scratch must sit in the function "
                             "body");
  if (exportBytes) {
    OpBuilder b(func.getContext());
    auto fn = sizeFunc(b, func, (func.getSymName() + "_scratch_bytes").str(),
                       alloc.getDynamicSizes()[0]);
    if (failed(fn))
      return failure();
    symbols.insert(*fn);
  }
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
  // The item count: static when the loop's bound is (the verifier of
  // attn.work_items holds the loop to [0, bound) in steps of 1).
  std::optional<int64_t> items =
      getConstantIntValue(forall.getMixedUpperBound()[0]);

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
  std::string name = func.getSymName().str();
  if (!items) {
    // @<kernel>_work_items(buffers...) -> index: the loop's bound.
    auto fn = sizeFunc(b, func, name + "_work_items",
                       cast<Value>(forall.getMixedUpperBound()[0]));
    if (failed(fn))
      return failure();
    symbols.insert(*fn);
  }
  FailureOr<int64_t> scratchPerItem =
      takeSplitScratch(func, /*exportBytes=*/!items, symbols);
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
  if (!items)
    return success();

  // @<kernel>_work_items() -> index: how many items [0, N) the runtime
  // spreads over its threads.
  symbols.insert(constantFunc(b, func, name + "_work_items", *items));
  if (*scratchPerItem > 0)
    symbols.insert(constantFunc(b, func, name + "_scratch_bytes_per_item",
                                *scratchPerItem));
  return success();
}

/// Work at the function's top level besides its work-item loops: loops or
/// linalg ops (a layer's GEMMs around its attention). Such a kernel must
/// run once per call, whatever the items.
bool hasWorkAround(func::FuncOp func) {
  AttnDialect::SplitScratchUseAttrHelper useAttr(func.getContext());
  for (Operation &op : func.getBody().front())
    if ((isa<scf::ForOp, scf::WhileOp>(op) || isa<linalg::LinalgOp>(op)) &&
        !useAttr.isAttrPresent(&op))
      return true;
  return false;
}

/// A kernel doing work around its loops, for the runtime: one work item
/// (`@<k>_work_items() = 1`, the range arguments unused), its loops run
/// in order inside the call.
LogicalResult convertToSingleItem(func::FuncOp func,
                                  ArrayRef<scf::ForallOp> loops,
                                  SymbolTable &symbols) {
  for (scf::ForallOp forall : loops)
    runInOrder(forall);
  OpBuilder b(func.getContext());
  unsigned n = func.getNumArguments();
  Location loc = func.getLoc();
  if (failed(func.insertArgument(n, b.getIndexType(), {}, loc)) ||
      failed(func.insertArgument(n + 1, b.getIndexType(), {}, loc)))
    return func.emitOpError("could not add work-item range arguments");
  symbols.insert(
      constantFunc(b, func, (func.getSymName() + "_work_items").str(), 1));
  return success();
}

/// The static item count of a work-item loop, if it sits in `func`'s body.
std::optional<int64_t> staticItems(scf::ForallOp forall, func::FuncOp func) {
  if (forall->getParentOp() != func || !forall.getOutputs().empty())
    return std::nullopt;
  return getConstantIntValue(forall.getMixedUpperBound()[0]);
}

/// Ops a staged kernel runs in every call, outside any stage: views,
/// constants, per-call scratch (memref.alloca).
bool runsInEveryCall(Operation &op) {
  if (op.getNumRegions() != 0)
    return false;
  if (isMemoryEffectFree(&op))
    return true;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  SmallVector<MemoryEffects::EffectInstance> list;
  effects.getEffects(list);
  return llvm::all_of(list, [](const MemoryEffects::EffectInstance &e) {
    return isa<MemoryEffects::Allocate>(e.getEffect());
  });
}

/// `@<name>_stage_end(i) -> index`: the first item past stage i (a select
/// chain over `ends`), after `after`.
func::FuncOp stageEndFunc(OpBuilder &b, func::FuncOp after, StringRef name,
                          ArrayRef<int64_t> ends) {
  OpBuilder::InsertionGuard guard(b);
  Location loc = after.getLoc();
  Type index = b.getIndexType();
  b.setInsertionPointAfter(after);
  auto fn = func::FuncOp::create(b, loc, (name + "_stage_end").str(),
                                 b.getFunctionType({index}, {index}));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value result = arith::ConstantIndexOp::create(b, loc, ends.back());
  for (int64_t i = int64_t(ends.size()) - 2; i >= 0; --i) {
    Value isI = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, entry->getArgument(0),
        arith::ConstantIndexOp::create(b, loc, i));
    result = arith::SelectOp::create(
        b, loc, isI, arith::ConstantIndexOp::create(b, loc, ends[i]), result);
  }
  func::ReturnOp::create(b, loc, result);
  return fn;
}

/// Bufferization computes a result that reaches its output argument
/// through reshapes (a layer's [B·S, E] output projection into
/// [B, S, E]) in a temporary and copies it at the end: a serial stage
/// copying the whole output. Computes it in the argument instead, when the
/// argument is used by that copy alone and the temporary (an alloc, seen
/// through one expand_shape) is not used after it.
void forwardFinalCopies(func::FuncOp func) {
  Block &body = func.getBody().front();
  SmallVector<memref::CopyOp> copies(body.getOps<memref::CopyOp>());
  for (memref::CopyOp copy : copies) {
    auto arg = dyn_cast<BlockArgument>(copy.getTarget());
    if (!arg || arg.getOwner() != &body || !arg.hasOneUse())
      continue;
    Value src = copy.getSource();
    auto expand = src.getDefiningOp<memref::ExpandShapeOp>();
    Value root = expand ? expand.getSrc() : src;
    auto alloc = root.getDefiningOp<memref::AllocOp>();
    if (!alloc || alloc->getBlock() != &body || src.getType() != arg.getType())
      continue;
    bool usedAfter = llvm::any_of(root.getUsers(), [&](Operation *user) {
      Operation *top = body.findAncestorOpInBlock(*user);
      return top != copy && copy->isBeforeInBlock(top) &&
             !isa<memref::DeallocOp>(top);
    });
    if (usedAfter || (expand && !expand->hasOneUse()))
      continue;
    OpBuilder b(alloc);
    Value inPlace = arg;
    if (expand) {
      auto collapse = memref::CollapseShapeOp::create(
          b, alloc.getLoc(), arg, expand.getReassociationIndices());
      if (collapse.getType() != alloc.getType()) {
        collapse.erase();
        continue;
      }
      inPlace = collapse;
    }
    copy.erase();
    if (expand)
      expand.erase();
    for (Operation *user : llvm::make_early_inc_range(root.getUsers()))
      if (isa<memref::DeallocOp>(user))
        user->erase();
    alloc.getResult().replaceAllUsesWith(inPlace);
    alloc.erase();
  }
}

/// A kernel of several steps (a layer: GEMM items, the work around them,
/// attention items, GEMM items) as stages over one item numbering: a
/// work-item loop is a stage of its items, a run of other ops with effects
/// a stage of one item. The runtime runs the stages in order, each
/// spread over its threads, with a barrier between them
/// (`@<k>_stages()`, `@<k>_stage_end(i)`: the first item past stage i);
/// a call covers items of one stage, and one call over all items runs the
/// stages in order. Buffers that live across stages (the top-level
/// memref.allocs: the QKV and attention outputs) become views of one
/// shared scratch argument the runtime allocates per run
/// (`@<k>_shared_bytes()`). Returns false, changing nothing, when the
/// kernel does not allow it: run-time item counts, split-KV scratch,
/// dynamic allocations, values crossing a stage.
FailureOr<bool> convertToStages(func::FuncOp func,
                                ArrayRef<scf::ForallOp> loops,
                                SymbolTable &symbols) {
  AttnDialect::SplitScratchAttrHelper scratchAttr(func.getContext());
  AttnDialect::WorkItemsAttrHelper workItems(func.getContext());
  Block &body = func.getBody().front();
  for (scf::ForallOp forall : loops)
    if (!staticItems(forall, func))
      return false;
  forwardFinalCopies(func);
  // Stages: [first op, last op] with their item counts.
  struct Stage {
    SmallVector<Operation *> ops;
    int64_t items = 1;
    scf::ForallOp loop;
  };
  SmallVector<Stage> stages;
  SmallVector<memref::AllocOp> shared;
  SmallVector<Operation *> deallocs;
  bool open = false;
  for (Operation &op : body.without_terminator()) {
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (scratchAttr.isAttrPresent(alloc) ||
          !alloc.getType().hasStaticShape() ||
          !alloc.getType().getLayout().isIdentity() ||
          alloc.getType().getMemorySpace())
        return false;
      shared.push_back(alloc);
      continue;
    }
    if (isa<memref::DeallocOp>(op)) {
      deallocs.push_back(&op);
      continue;
    }
    auto forall = dyn_cast<scf::ForallOp>(op);
    if (forall && workItems.isAttrPresent(forall)) {
      stages.push_back({{&op}, *staticItems(forall, func), forall});
      open = false;
      continue;
    }
    if (runsInEveryCall(op))
      continue;
    if (!open)
      stages.push_back({});
    stages.back().ops.push_back(&op);
    open = true;
  }
  // A serial stage moves into an scf.if: its results must stay inside.
  for (Stage &stage : stages) {
    if (stage.loop)
      continue;
    llvm::SmallPtrSet<Operation *, 8> inside(stage.ops.begin(),
                                             stage.ops.end());
    for (Operation *op : stage.ops)
      for (Operation *user : op->getUsers())
        if (!inside.contains(body.findAncestorOpInBlock(*user)))
          return false;
  }
  for (Operation *dealloc : deallocs) {
    Value freed = cast<memref::DeallocOp>(dealloc).getMemref();
    if (!llvm::is_contained(shared, freed.getDefiningOp()))
      return false;
  }

  OpBuilder b(func.getContext());
  Location loc = func.getLoc();
  Type index = b.getIndexType();
  for (Operation *dealloc : deallocs)
    dealloc->erase();
  // The shared scratch: each buffer at a 64-byte aligned offset.
  unsigned n = func.getNumArguments();
  int64_t sharedBytes = 0;
  if (!shared.empty()) {
    auto bytesTy = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
    if (failed(func.insertArgument(n, bytesTy, {}, loc)))
      return func.emitOpError("could not add the shared scratch argument");
    Value arg = func.getArgument(n++);
    for (memref::AllocOp alloc : shared) {
      MemRefType ty = alloc.getType();
      int64_t bytes = ty.getNumElements() *
                      llvm::divideCeil(ty.getElementTypeBitWidth(), 8);
      b.setInsertionPoint(alloc);
      Value offset = arith::ConstantIndexOp::create(b, loc, sharedBytes);
      Value view =
          memref::ViewOp::create(b, loc, ty, arg, offset, ValueRange{});
      alloc.getResult().replaceAllUsesWith(view);
      alloc.erase();
      sharedBytes += llvm::alignTo(bytes, 64);
    }
  }
  if (failed(func.insertArgument(n, index, {}, loc)) ||
      failed(func.insertArgument(n + 1, index, {}, loc)))
    return func.emitOpError("could not add work-item range arguments");
  Value begin = func.getArgument(n), end = func.getArgument(n + 1);

  SmallVector<int64_t> ends;
  int64_t first = 0;
  for (Stage &stage : stages) {
    int64_t last = first + stage.items;
    ends.push_back(last);
    // After the stage's last op: views it uses that sit between its ops
    // (pure) then come first.
    b.setInsertionPointAfter(stage.ops.back());
    Value lo = arith::ConstantIndexOp::create(b, loc, first);
    Value hi = arith::ConstantIndexOp::create(b, loc, last);
    if (stage.loop) {
      // Items [max(begin, first), min(end, last)) of this stage, numbered
      // from 0 within it.
      Value from = arith::SubIOp::create(
          b, loc, arith::MaxSIOp::create(b, loc, begin, lo), lo);
      Value to = arith::SubIOp::create(
          b, loc, arith::MinSIOp::create(b, loc, end, hi), lo);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      moveBody(stage.loop, scf::ForOp::create(b, loc, from, to, one));
    } else {
      // The stage's one item is `first`: run it when the range holds it.
      Value covers = arith::AndIOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, begin, lo),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, lo, end));
      auto ifOp = scf::IfOp::create(b, loc, covers, /*withElseRegion=*/false);
      Operation *yield = ifOp.thenBlock()->getTerminator();
      for (Operation *op : stage.ops)
        op->moveBefore(yield);
    }
    first = last;
  }

  std::string name = func.getSymName().str();
  symbols.insert(constantFunc(b, func, name + "_work_items", first));
  symbols.insert(constantFunc(b, func, name + "_stages", ends.size()));
  if (sharedBytes > 0)
    symbols.insert(constantFunc(b, func, name + "_shared_bytes", sharedBytes));
  symbols.insert(stageEndFunc(b, func, name, ends));
  return true;
}

struct ParallelToRuntimePass
    : attn::impl::AttnParallelToRuntimeBase<ParallelToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    AttnDialect::WorkItemsAttrHelper workItems(&getContext());
    SmallVector<std::pair<func::FuncOp, scf::ForallOp>> kernels;
    for (auto func : module.getOps<func::FuncOp>()) {
      SmallVector<scf::ForallOp> loops;
      func.walk([&](scf::ForallOp f) {
        if (workItems.isAttrPresent(f))
          loops.push_back(f);
      });
      auto uses = SymbolTable::getSymbolUses(func, module);
      bool callable = uses && !uses->empty();
      bool several = loops.size() > 1 || hasWorkAround(func);
      if (!loops.empty() && func.getNumResults() == 0 && !callable && several) {
        FailureOr<bool> staged = convertToStages(func, loops, symbols);
        if (failed(staged))
          return signalPassFailure();
        if (*staged)
          continue;
      }
      if (!loops.empty() && func.getNumResults() == 0 && !callable &&
          hasWorkAround(func)) {
        if (failed(convertToSingleItem(func, loops, symbols)))
          return signalPassFailure();
        continue;
      }
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
