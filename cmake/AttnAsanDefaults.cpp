//===- AttnAsanDefaults.cpp - ASan defaults for sanitized executables -----===//
//
// Linked into every executable of an ATTN_SANITIZE build
// (cmake/AttnSanitizerDefaults.cmake). ASAN_OPTIONS, when set, still
// overrides these.
//
// allow_user_poisoning=0: LLVM/MLIR come from Debian's packages, built
// without ASan, while our code is built with it. llvm::BumpPtrAllocator's
// inline Allocate/AllocateSlow (llvm/Support/Allocator.h) poison each new
// slab and unpoison each allocation only where LLVM_ADDRESS_SANITIZER_BUILD
// is set, i.e. in our translation units. The MLIRContext's storage
// allocator is shared: an attribute or type storage constructed by our
// ODS-generated code (e.g. #attn.mask) that opens a new slab poisons the
// whole slab, and every later storage libMLIR carves from it (locations,
// StringAttrs) stays poisoned, since libMLIR's copy of the fast path never
// unpoisons. The next interceptor call that touches one (memcmp while
// FileLineColRange::get uniques a location, memcpy in StringAttr::get)
// reports use-after-poison on valid memory. Upstream: llvm/llvm-project
// issue 151430 (open). This only turns the allocator's manual poisoning
// off; heap, stack and global checks are unchanged.
//
//===----------------------------------------------------------------------===//

extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}
