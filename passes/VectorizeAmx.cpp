//===- VectorizeAmx.cpp - bf16 tile matmuls on AMX ------------------------===//
//
// The forward's two tile matmuls on bf16 data as AMX tile products
// (tdpbf16ps: a 16 × 32 bf16 tile times a 16 × 32 bf16 tile of pairs into
// 16 × 16 f32), chosen by attn-vectorize-tiles{amx}:
//
//   Sᵀ[tk, n] = K[tk, D] · Qᵀ[D, n]   K as is (row-major bf16); Qᵀ as the
//                                     pairs of each Q row (AMX's B layout);
//                                     the softmax scale applied to Sᵀ in f32
//   acc[n, Dv] += P[n, tk] · V[tk, Dv] P = Sᵀ transposed and rounded to bf16;
//                                     V with rows k, k+1 interleaved
//
// The K, V and Q packs write bf16 copies in those layouts instead of their
// f32 tiles (which then have no reader). Everything after the products
// (softmax, finalize) is the FMA kernel's code on the same f32 tiles.
//
//===----------------------------------------------------------------------===//
#include "passes/AmxTiles.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

namespace {

constexpr int64_t kTile = 16;  // rows of a tile, f32 columns of a C tile
constexpr int64_t kPairs = 32; // bf16 columns of an A or B tile

MemRefType memTy(Value v) { return cast<MemRefType>(v.getType()); }
bool staticF32(Value v) {
  MemRefType t = memTy(v);
  return t.getRank() == 2 && t.hasStaticShape() && t.getElementType().isF32();
}

/// The operand of `mm` a buffer can be, with the layout its copy takes.
enum class Role { QkLhs, QkRhs, PvRhs };

bool isQk(TileMatmulOp mm) {
  return !mm.getTransposeLhs() && !mm.getTransposeRhs() && !mm.getAccumulate();
}
bool isPv(TileMatmulOp mm) {
  return mm.getTransposeLhs() && !mm.getTransposeRhs();
}

/// `view` is its buffer or a unit-stride subview at offset 0 of it.
bool isCorner(Value view) {
  auto sv = view.getDefiningOp<memref::SubViewOp>();
  if (!sv)
    return true;
  return sv.hasUnitStride() &&
         llvm::all_of(sv.getStaticOffsets(),
                      [](int64_t o) { return o == 0; }) &&
         isCorner(sv.getSource());
}

/// Shapes AMX takes without padding: 16-row blocks of Sᵀ and of the query
/// rows, 32 keys per P·V step, even head dims (pairs), 16-column blocks of
/// Dv.
bool shapesFit(TileMatmulOp mm) {
  Value lhs = mm.getLhs(), rhs = mm.getRhs(), acc = mm.getAcc();
  if (isPv(mm)) {
    // P·V over the padded rows of the group (7 heads × 9 rows of 64): the
    // products run on the whole buffers; the extra acc rows are padding
    // nobody reads.
    if (!isCorner(lhs) || !isCorner(acc))
      return false;
    lhs = rootBuffer(lhs);
    acc = rootBuffer(acc);
    if (memTy(lhs).getDimSize(1) != memTy(acc).getDimSize(0) ||
        memTy(mm.getLhs()).getDimSize(0) != memTy(lhs).getDimSize(0) ||
        memTy(mm.getAcc()).getDimSize(1) != memTy(acc).getDimSize(1))
      return false;
  }
  if (!staticF32(lhs) || !staticF32(rhs) || !staticF32(acc) ||
      rootBuffer(lhs) != lhs || rootBuffer(rhs) != rhs)
    return false;
  ArrayRef<int64_t> a = memTy(acc).getShape(), l = memTy(lhs).getShape();
  if (a[0] % kTile || a[1] % kTile)
    return false;
  if (isQk(mm))
    return l[1] % 2 == 0 && lhs.getDefiningOp<memref::AllocaOp>() &&
           rhs.getDefiningOp<memref::AllocaOp>();
  if (isPv(mm))
    return l[0] % kPairs == 0 && lhs.getDefiningOp<memref::AllocaOp>() &&
           rhs.getDefiningOp<memref::AllocaOp>();
  return false;
}

/// Every use of `root` and of subviews of it, through the subviews.
void collectUses(Value root, SmallVectorImpl<OpOperand *> &uses) {
  for (OpOperand &use : root.getUses()) {
    if (auto sv = dyn_cast<memref::SubViewOp>(use.getOwner()))
      collectUses(sv.getResult(), uses);
    else
      uses.push_back(&use);
  }
}

/// A pack the copy in `role`'s layout can take: bf16 source, written
/// whole (Qᵀ: column blocks of all rows).
bool packFits(TilePackOp pack, Role role, Value root) {
  if (!memTy(pack.getSource()).getElementType().isBF16())
    return false;
  if (role != Role::QkRhs)
    return pack.getDest() == root && !pack.getTranspose() && !pack.getScale();
  if (!pack.getTranspose())
    return false;
  if (pack.getDest() == root)
    return true;
  auto sv = pack.getDest().getDefiningOp<memref::SubViewOp>();
  return sv && sv.getSource() == root && sv.hasUnitStride() &&
         sv.getStaticOffsets()[0] == 0 &&
         memTy(sv.getResult()).getDimSize(0) == memTy(root).getDimSize(0);
}

/// `linalg.fill` of 0 over all of `root` (Qᵀ when the group's rows leave
/// padding columns no pack writes).
bool isZeroFill(linalg::FillOp fill, Value root) {
  if (fill.getInputs().size() != 1 || fill.getOutputs().size() != 1)
    return false;
  auto cst = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto value = cst ? dyn_cast<FloatAttr>(cst.getValue()) : FloatAttr();
  return fill.getOutputs()[0] == root && value && value.getValue().isZero();
}

} // namespace

Value mlir::attn::detail::rootBuffer(Value view) {
  while (auto sv = view.getDefiningOp<memref::SubViewOp>())
    view = sv.getSource();
  return view;
}

const AmxPlan::Copy *AmxPlan::copyOf(Value buffer) const {
  auto it = copies.find(buffer);
  return it == copies.end() ? nullptr : &it->second;
}

AmxPlan AmxPlan::build(func::FuncOp f) {
  llvm::SetVector<Operation *> picked;
  f.walk([&](TileMatmulOp mm) {
    if (shapesFit(mm))
      picked.insert(mm);
  });
  // Drops matmuls until every operand buffer is read only by picked
  // matmuls in one role and written only by bf16 packs.
  llvm::DenseMap<Value, Role> roles;
  bool changed = true;
  while (changed) {
    changed = false;
    roles.clear();
    for (Operation *op : llvm::make_early_inc_range(picked)) {
      auto mm = cast<TileMatmulOp>(op);
      auto roleOk = [&](Value buf, Role role) {
        SmallVector<OpOperand *> uses;
        collectUses(buf, uses);
        return llvm::all_of(uses, [&](OpOperand *use) {
          Operation *user = use->getOwner();
          if (auto pack = dyn_cast<TilePackOp>(user))
            return use->get() == pack.getDest() && packFits(pack, role, buf);
          if (auto fill = dyn_cast<linalg::FillOp>(user))
            return isZeroFill(fill, buf);
          auto other = dyn_cast<TileMatmulOp>(user);
          if (!other || !picked.contains(other))
            return false;
          bool lhs = use == &other.getLhsMutable();
          bool rhs = use == &other.getRhsMutable();
          return role == Role::QkLhs   ? isQk(other) && lhs
                 : role == Role::QkRhs ? isQk(other) && rhs
                                       : isPv(other) && rhs;
        });
      };
      bool ok = isQk(mm) ? roleOk(mm.getLhs(), Role::QkLhs) &&
                               roleOk(mm.getRhs(), Role::QkRhs)
                         : roleOk(mm.getRhs(), Role::PvRhs);
      if (!ok) {
        picked.remove(op);
        changed = true;
        continue;
      }
      if (isQk(mm)) {
        roles[mm.getLhs()] = Role::QkLhs;
        roles[mm.getRhs()] = Role::QkRhs;
      } else {
        roles[mm.getRhs()] = Role::PvRhs;
      }
    }
  }
  // The packs of one Qᵀ must agree on the scale that moves to Sᵀ.
  AmxPlan plan;
  for (auto [buf, role] : roles) {
    if (role != Role::QkRhs)
      continue;
    std::optional<float> scale;
    bool agree = true;
    SmallVector<OpOperand *> uses;
    collectUses(buf, uses);
    for (OpOperand *use : uses)
      if (auto pack = dyn_cast<TilePackOp>(use->getOwner())) {
        float s = pack.getScale() ? pack.getScale()->convertToFloat() : 1.0f;
        agree &= !scale || *scale == s;
        scale = s;
      }
    if (!agree)
      return AmxPlan();
    plan.scales[buf] = scale.value_or(1.0f);
  }

  auto bf16 = BFloat16Type::get(f.getContext());
  auto allocNextTo = [&](Value buf, int64_t r, int64_t c) -> Value {
    OpBuilder b(buf.getDefiningOp());
    b.setInsertionPointAfter(buf.getDefiningOp());
    return memref::AllocaOp::create(b, buf.getLoc(),
                                    MemRefType::get({r, c}, bf16));
  };
  for (Operation *op : picked) {
    auto mm = cast<TileMatmulOp>(op);
    ArrayRef<int64_t> l = memTy(mm.getLhs()).getShape(),
                      r = memTy(mm.getRhs()).getShape();
    if (isQk(mm)) {
      // The head dim padded with zeros to whole 32-wide steps: a narrower
      // last step would take tiles of other shapes, and LLVM configures each
      // tile register with one shape per function (8 registers: 2 × 2 C
      // tiles and their A and B tiles already fill them).
      int64_t depth = llvm::alignTo(l[1], kPairs);
      if (!plan.copies.count(mm.getLhs()))
        plan.copies[mm.getLhs()] = {allocNextTo(mm.getLhs(), l[0], depth),
                                    Layout::RowMajor};
      if (!plan.copies.count(mm.getRhs()))
        plan.copies[mm.getRhs()] = {
            allocNextTo(mm.getRhs(), depth / 2, 2 * r[1]), Layout::PairsOfT};
      plan.matmuls[op] = nullptr;
      continue;
    }
    if (!plan.copies.count(mm.getRhs()))
      plan.copies[mm.getRhs()] = {allocNextTo(mm.getRhs(), r[0] / 2, 2 * r[1]),
                                  Layout::Pairs};
    Value st = rootBuffer(mm.getLhs());
    plan.matmuls[op] =
        allocNextTo(st, memTy(st).getDimSize(1), memTy(st).getDimSize(0));
  }
  for (auto &[buf, copy] : plan.copies)
    for (Operation *user : llvm::make_early_inc_range(buf.getUsers()))
      if (auto fill = dyn_cast<linalg::FillOp>(user)) {
        OpBuilder b(fill);
        Value zero = arith::ConstantOp::create(b, fill.getLoc(),
                                               b.getFloatAttr(bf16, 0.0));
        linalg::FillOp::create(b, fill.getLoc(), ValueRange{zero},
                               ValueRange{copy.buffer});
        fill.erase();
      }
  return plan;
}

namespace {

/// Emission helpers over one builder.
struct AmxEmitter {
  ImplicitLocOpBuilder &b;
  IndexMath im{b};
  Type bf16 = b.getBF16Type(), f32 = b.getF32Type();

  template <typename Fn> void loop(Value lb, Value ub, int64_t step, Fn body) {
    auto f = scf::ForOp::create(b, lb, ub, im.c(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(f.getBody());
    body(f.getInductionVar());
  }
  Value zeros(VectorType t) {
    return arith::ConstantOp::create(
        b, t, DenseElementsAttr::get(t, b.getZeroAttr(t.getElementType())));
  }
  /// `n` bf16 of row `row` of `src` from column `col`, zero past its end.
  Value readRow(Value src, Value row, int64_t col, int64_t n) {
    auto t = VectorType::get({n}, bf16);
    Value pad = arith::ConstantOp::create(b, b.getFloatAttr(bf16, 0.0));
    bool inBounds = col + n <= memTy(src).getDimSize(1) &&
                    !ShapedType::isDynamic(memTy(src).getDimSize(1));
    return vector::TransferReadOp::create(b, t, src, ValueRange{row, im.c(col)},
                                          pad, ArrayRef<bool>{inBounds});
  }
  /// Lanes of `x` and `y` alternating: x0 y0 x1 y1 ...
  Value interleave(Value x, Value y) {
    int64_t n = cast<VectorType>(x.getType()).getNumElements();
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < n; ++i)
      mask.append({i, n + i});
    return vector::ShuffleOp::create(b, x, y, mask);
  }
  /// Transposes 16 vectors of 16 lanes (row r, lane c -> row c, lane r) by
  /// swapping one bit of row and lane index per stage: 64 two-source
  /// shuffles.
  void transpose16(SmallVectorImpl<Value> &rows) {
    for (int64_t s = 1; s < kTile; s *= 2)
      for (int64_t r = 0; r < kTile; ++r) {
        if (r & s)
          continue;
        SmallVector<int64_t> lo, hi;
        for (int64_t c = 0; c < kTile; ++c) {
          lo.push_back(c & s ? kTile + c - s : c);
          hi.push_back(c & s ? kTile + c : c + s);
        }
        Value x = rows[r], y = rows[r + s];
        rows[r] = vector::ShuffleOp::create(b, x, y, lo);
        rows[r + s] = vector::ShuffleOp::create(b, x, y, hi);
      }
  }
  amx::TileType tile(int64_t r, int64_t c, Type t) {
    return amx::TileType::get({r, c}, t);
  }
  /// The bm × bn C tiles of `c` at (m0, n0) (+)= A_i · B_j over `depth`:
  /// A tiles of 16 rows × 32 bf16 from `a`, B tiles of 16 pairs × 16
  /// columns from `bPairs`.
  void products(Value a, Value bPairs, Value c, Value m0, Value n0, int64_t bm,
                int64_t bn, int64_t depth, bool accumulate) {
    auto cTy = tile(kTile, kTile, f32);
    SmallVector<Value> cs;
    for (int64_t i = 0; i < bm; ++i)
      for (int64_t j = 0; j < bn; ++j)
        cs.push_back(accumulate ? amx::TileLoadOp::create(
                                      b, cTy, c,
                                      ValueRange{im.add(m0, i * kTile),
                                                 im.add(n0, j * kTile)})
                                      .getResult()
                                : amx::TileZeroOp::create(b, cTy).getResult());
    for (int64_t k0 = 0; k0 < depth; k0 += kPairs) {
      int64_t kk = kPairs;
      SmallVector<Value> as, bs;
      for (int64_t i = 0; i < bm; ++i)
        as.push_back(amx::TileLoadOp::create(
            b, tile(kTile, kk, bf16), a,
            ValueRange{im.add(m0, i * kTile), im.c(k0)}));
      for (int64_t j = 0; j < bn; ++j)
        bs.push_back(amx::TileLoadOp::create(
            b, tile(kk / 2, 2 * kTile, bf16), bPairs,
            ValueRange{im.c(k0 / 2), im.mul(im.add(n0, j * kTile), 2)}));
      for (int64_t i = 0; i < bm; ++i)
        for (int64_t j = 0; j < bn; ++j)
          cs[i * bn + j] =
              amx::TileMulFOp::create(b, cTy, as[i], bs[j], cs[i * bn + j]);
    }
    for (int64_t i = 0; i < bm; ++i)
      for (int64_t j = 0; j < bn; ++j)
        amx::TileStoreOp::create(
            b, c, ValueRange{im.add(m0, i * kTile), im.add(n0, j * kTile)},
            cs[i * bn + j]);
  }
  /// All C tiles of `c` ([m, n]), 2 × 2 blocks where the sizes allow.
  void matmul(Value a, Value bPairs, Value c, int64_t depth, bool accumulate) {
    int64_t m = memTy(c).getDimSize(0), n = memTy(c).getDimSize(1);
    int64_t bm = m % (2 * kTile) ? 1 : 2, bn = n % (2 * kTile) ? 1 : 2;
    loop(im.c(0), im.c(m), bm * kTile, [&](Value m0) {
      loop(im.c(0), im.c(n), bn * kTile, [&](Value n0) {
        products(a, bPairs, c, m0, n0, bm, bn, depth, accumulate);
      });
    });
  }
  /// P[n, tk] bf16 from Sᵀ[tk, n] f32: pairs of keys interleaved per query
  /// (one 32-bit word per pair), then 16 × 16 word blocks transposed.
  void transposeProbs(Value st, Value p) {
    int64_t tk = memTy(st).getDimSize(0), n = memTy(st).getDimSize(1);
    auto f32Ty = VectorType::get({kTile}, f32);
    auto bf16Ty = VectorType::get({kTile}, bf16);
    auto wordTy = VectorType::get({kTile}, b.getI32Type());
    auto pairTy = VectorType::get({2 * kTile}, bf16);
    loop(im.c(0), im.c(n), kTile, [&](Value q0) {
      loop(im.c(0), im.c(tk / 2), kTile, [&](Value j0) {
        SmallVector<Value> words;
        for (int64_t i = 0; i < kTile; ++i) {
          Value k = im.mul(im.add(j0, i), 2);
          Value x = vector::LoadOp::create(b, f32Ty, st, ValueRange{k, q0});
          Value y = vector::LoadOp::create(b, f32Ty, st,
                                           ValueRange{im.add(k, 1), q0});
          Value w = interleave(arith::TruncFOp::create(b, bf16Ty, x),
                               arith::TruncFOp::create(b, bf16Ty, y));
          words.push_back(vector::BitCastOp::create(b, wordTy, w));
        }
        transpose16(words);
        for (int64_t i = 0; i < kTile; ++i)
          vector::StoreOp::create(
              b, vector::BitCastOp::create(b, pairTy, words[i]), p,
              ValueRange{im.add(q0, i), im.mul(j0, 2)});
      });
    });
  }
  /// s[r, :] *= scale.
  void scaleRows(Value s, float scale) {
    int64_t n = memTy(s).getDimSize(1);
    auto t = VectorType::get({kTile}, f32);
    Value k = arith::ConstantOp::create(b, t, DenseElementsAttr::get(t, scale));
    loop(im.c(0), im.c(memTy(s).getDimSize(0)), 1, [&](Value r) {
      for (int64_t c = 0; c < n; c += kTile) {
        Value v = vector::LoadOp::create(b, t, s, ValueRange{r, im.c(c)});
        vector::StoreOp::create(b, arith::MulFOp::create(b, v, k), s,
                                ValueRange{r, im.c(c)});
      }
    });
  }
};

} // namespace

void mlir::attn::detail::lowerAmxPack(ImplicitLocOpBuilder &b, TilePackOp op,
                                      const AmxPlan::Copy &copy) {
  AmxEmitter e{b};
  IndexMath &im = e.im;
  Value src = op.getSource(), dst = copy.buffer;
  Value srcRows = memref::DimOp::create(b, src, 0);
  int64_t rows = memTy(dst).getDimSize(0), cols = memTy(dst).getDimSize(1);
  auto pairTy = VectorType::get({2 * kTile}, b.getBF16Type());
  switch (copy.layout) {
  case AmxPlan::Layout::RowMajor:
    e.loop(im.c(0), srcRows, 1, [&](Value r) {
      for (int64_t c = 0; c < cols; c += kPairs)
        vector::TransferWriteOp::create(b, e.readRow(src, r, c, kPairs), dst,
                                        ValueRange{r, im.c(c)},
                                        ArrayRef<bool>{c + kPairs <= cols});
    });
    e.loop(srcRows, im.c(rows), 1, [&](Value r) {
      for (int64_t c = 0; c < cols; c += kPairs)
        vector::TransferWriteOp::create(b, e.zeros(pairTy), dst,
                                        ValueRange{r, im.c(c)},
                                        ArrayRef<bool>{c + kPairs <= cols});
    });
    return;
  case AmxPlan::Layout::Pairs: {
    // Row pair j of the copy interleaves source rows 2j and 2j + 1 (zero
    // past the source's rows).
    auto halfTy = VectorType::get({kTile}, b.getBF16Type());
    Value pairsWithData =
        arith::DivUIOp::create(b, im.add(srcRows, 1), im.c(2));
    e.loop(im.c(0), pairsWithData, 1, [&](Value j) {
      Value r0 = im.mul(j, 2), r1 = im.add(r0, 1);
      Value hasR1 =
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, r1, srcRows);
      for (int64_t c = 0; c < cols / 2; c += kTile) {
        Value x = e.readRow(src, r0, c, kTile);
        auto ifOp = scf::IfOp::create(b, TypeRange{halfTy}, hasR1,
                                      /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          scf::YieldOp::create(b, e.readRow(src, r1, c, kTile));
          b.setInsertionPointToStart(ifOp.elseBlock());
          scf::YieldOp::create(b, e.zeros(halfTy));
        }
        vector::StoreOp::create(b, e.interleave(x, ifOp.getResult(0)), dst,
                                ValueRange{j, im.c(2 * c)});
      }
    });
    e.loop(pairsWithData, im.c(rows), 1, [&](Value j) {
      for (int64_t c = 0; c < cols; c += 2 * kTile)
        vector::StoreOp::create(b, e.zeros(pairTy), dst,
                                ValueRange{j, im.c(c)});
    });
    return;
  }
  case AmxPlan::Layout::PairsOfT: {
    // Source row q (a query) goes to copy columns 2(off + q), +1: its pair
    // p to copy row p. Queries past the source's rows are zero.
    Value off = im.c(0);
    int64_t queries = memTy(op.getDest()).getDimSize(1);
    if (auto sv = op.getDest().getDefiningOp<memref::SubViewOp>())
      off = getValueOrCreateConstantIndexOp(b, b.getLoc(),
                                            sv.getMixedOffsets()[1]);
    auto twoTy = VectorType::get({2}, b.getBF16Type());
    e.loop(im.c(0), srcRows, 1, [&](Value q) {
      Value col = im.mul(im.add(off, q), 2);
      for (int64_t c = 0; c < 2 * rows; c += kPairs) {
        Value v = e.readRow(src, q, c, kPairs);
        for (int64_t l = 0; l < kTile && c / 2 + l < rows; ++l) {
          Value two = vector::ExtractStridedSliceOp::create(
              b, v, ArrayRef<int64_t>{2 * l}, ArrayRef<int64_t>{2},
              ArrayRef<int64_t>{1});
          vector::StoreOp::create(b, two, dst,
                                  ValueRange{im.c(c / 2 + l), col});
        }
      }
    });
    e.loop(srcRows, im.c(queries), 1, [&](Value q) {
      Value col = im.mul(im.add(off, q), 2);
      e.loop(im.c(0), im.c(rows), 1, [&](Value p) {
        vector::StoreOp::create(b, e.zeros(twoTy), dst, ValueRange{p, col});
      });
    });
    return;
  }
  }
}

void mlir::attn::detail::lowerAmxMatmul(ImplicitLocOpBuilder &b,
                                        TileMatmulOp op, const AmxPlan &plan) {
  AmxEmitter e{b};
  Value lhs = op.getLhs(), rhs = op.getRhs(), acc = op.getAcc();
  Value probs = plan.matmuls.lookup(op);
  const AmxPlan::Copy *rhsCopy = plan.copyOf(rhs);
  if (!probs) {
    Value k = plan.copyOf(lhs)->buffer;
    e.matmul(k, rhsCopy->buffer, acc, memTy(k).getDimSize(1),
             /*accumulate=*/false);
    auto scale = plan.scales.find(rhs);
    if (scale != plan.scales.end() && scale->second != 1.0f)
      e.scaleRows(acc, scale->second);
    return;
  }
  Value st = rootBuffer(lhs);
  e.transposeProbs(st, probs);
  e.matmul(probs, rhsCopy->buffer, rootBuffer(acc), memTy(st).getDimSize(0),
           op.getAccumulate());
}
