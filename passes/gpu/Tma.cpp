//===- Tma.cpp - TMA tile loads and their mbarriers -----------------------===//
//
// With wgmma over dense K/V, one thread per block issues the bulk tensor
// copies (cp.async.bulk.tensor) of a K/V tile from the tensor maps the
// runtime encodes per launch; each stage has an mbarrier that the copies
// complete, and every thread waits on its phase.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "dialect/ptx/PtxDialect.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

Value FlashKernelEmitter::sharedPtr(Value addr) {
  return LLVM::IntToPtrOp::create(
      b, LLVM::LLVMPointerType::get(b.getContext(), /*addressSpace=*/3), addr);
}

void FlashKernelEmitter::fenceProxyAsync() {
  NVVM::FenceProxyOp::create(
      b, NVVM::ProxyKind::async_shared,
      NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
}

void FlashKernelEmitter::initTmaBarriers() {
  // One mbarrier per stage (arrival count 1: the issuing thread), made
  // visible to the copy engine and the block before the first copy.
  int64_t tileBytes = g.stages * g.tileKv * g.smemRowElems() * 2;
  barrierBase = i32(im.add(smemBase, im.c(2 * tileBytes + g.qBytes())));
  auto leader = scf::IfOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, im.c(0)),
      /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(leader.thenBlock());
    Value one = arith::ConstantIntOp::create(b, b.getI32Type(), 1);
    for (int64_t s = 0; s < g.stages; ++s)
      NVVM::MBarrierInitOp::create(
          b,
          sharedPtr(arith::AddIOp::create(
              b, barrierBase,
              arith::ConstantIntOp::create(b, b.getI32Type(), 8 * s))),
          one, /*predicate=*/Value());
    NVVM::FenceMbarrierInitOp::create(b);
  }
  gpu::BarrierOp::create(b);
}

void FlashKernelEmitter::ifOwned(Value i, function_ref<void()> body) {
  auto owned = scf::IfOp::create(b, im.lt(i, numTiles), /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(owned.thenBlock());
  body();
}

void FlashKernelEmitter::loadTileTma(Value tile, Value stage) {
  const int64_t cb = g.colBlocks();
  const int64_t blockBytes = g.tileKv * GpuFlashGeometry::kSwizzleElems * 2;
  const int64_t tileBytes = g.stages * cb * blockBytes;
  Value isLeader =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, im.c(0));
  auto leader = scf::IfOp::create(b, isLeader, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(leader.thenBlock());
  Value bar = arith::AddIOp::create(b, barrierBase, i32(im.mul(stage, 8)));
  Value bytes =
      arith::ConstantIntOp::create(b, b.getI32Type(), 2 * cb * blockBytes);
  Value barPtr = sharedPtr(bar);
  NVVM::MBarrierArriveExpectTxOp::create(b, Type(), barPtr, bytes,
                                         NVVM::MemScopeKind::CTA,
                                         /*relaxed=*/false, Value());
  Value key0 = i32(im.mul(tile, g.tileKv));
  Value head = i32(kvHead), seq = i32(batch);
  // Coordinates in the map's dim order (gpuKvTensorMap).
  Value c1 = g.bshd ? head : key0, c2 = g.bshd ? key0 : head;
  for (auto [map, base] :
       {std::pair{tensorMapK, int64_t(0)}, std::pair{tensorMapV, tileBytes}})
    for (int64_t c = 0; c < cb; ++c) {
      Value dst = i32(im.add(smemBase, im.add(im.mul(stage, cb * blockBytes),
                                              im.c(base + c * blockBytes))));
      Value col = arith::ConstantIntOp::create(
          b, b.getI32Type(), c * GpuFlashGeometry::kSwizzleElems);
      ptx::TmaLoad4dOp::create(b, dst, map, ValueRange{col, c1, c2, seq}, bar);
    }
}

void FlashKernelEmitter::waitTileTma(Value stage, Value parity) {
  Value bar = arith::AddIOp::create(b, barrierBase, i32(im.mul(stage, 8)));
  auto loop = scf::WhileOp::create(b, TypeRange{}, ValueRange{});
  {
    OpBuilder::InsertionGuard guard(b);
    Block *before = b.createBlock(&loop.getBefore());
    b.setInsertionPointToStart(before);
    Value done = NVVM::MBarrierTryWaitOp::create(
        b, b.getI1Type(), sharedPtr(bar), parity, /*ticks=*/Value());
    Value pending = arith::XOrIOp::create(
        b, done, arith::ConstantIntOp::create(b, b.getI1Type(), 1));
    scf::ConditionOp::create(b, pending, ValueRange{});
    Block *after = b.createBlock(&loop.getAfter());
    b.setInsertionPointToStart(after);
    scf::YieldOp::create(b, ValueRange{});
  }
}
