/* The split-K tail of the tensor-core GEMM (nvptx_gemm.c): a tile's splits
 * have written their partial tiles to the workspace; each element is the
 * sum of its partials in split order (deterministic: whichever block sums
 * it gets the same bits), then the epilogue, applied exactly once.
 *  - last block: a counter per tile elects the block that arrives last; it
 *    sums the whole tile and resets the counter for the next launch.
 *  - shared (plan.shared_tail, where the whole grid is on the GPU at once):
 *    the tile is cut into one piece per split, and block z sums piece z
 *    once every split has arrived, so no block reads back more than
 *    1 / splits of the partials. The counter only grows, by `splits` a
 *    launch (the e-th launch waits for e * splits), and each piece has a
 *    claim word, written with atomics so that exactly one block sums the
 *    piece (see shared_tail). A block that waited tail_wait_us in vain
 *    leaves its piece to the last block, which claims the others' pieces
 *    while it sums its own: a grid that does not all fit at once (another
 *    grid holds SMs) is slower, never stuck. */
#include "codegen/nvptx_gemm_gen.h"

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static LLVMValueRef atomic_load(gen *g, LLVMTypeRef type, LLVMValueRef ptr, unsigned align)
{
    LLVMValueRef v = LLVMBuildLoad2(g->b, type, ptr, "");
    LLVMSetOrdering(v, LLVMAtomicOrderingMonotonic);
    LLVMSetAtomicSyncScopeID(v, gpu_scope(g));
    LLVMSetAlignment(v, align);
    return v;
}

static LLVMValueRef atomic_rmw(gen *g, LLVMAtomicRMWBinOp op, LLVMValueRef ptr, LLVMValueRef v)
{
    return LLVMBuildAtomicRMWSyncScope(g->b, op, ptr, v, LLVMAtomicOrderingMonotonic, gpu_scope(g));
}

/* explicit fences: LLVM 22's NVPTX emits a plain atom for an acq_rel atomicrmw */
static void fence(gen *g) { LLVMBuildFenceSyncScope(g->b, LLVMAtomicOrderingAcquireRelease, gpu_scope(g), ""); }

static LLVMValueRef shared_words(gen *g, const char *name, LLVMTypeRef type, int n)
{
    LLVMValueRef gv = LLVMGetNamedGlobal(g->m, name);
    if (!gv) {
        LLVMTypeRef at = LLVMArrayType2(type, (uint64_t)n);
        gv = LLVMAddGlobalInAddressSpace(g->m, at, name, ADDR_SHARED);
        LLVMSetInitializer(gv, LLVMGetUndef(at));
        LLVMSetLinkage(gv, LLVMInternalLinkage);
        LLVMSetAlignment(gv, 8);
    }
    return gv;
}

static LLVMValueRef word_at(gen *g, LLVMTypeRef type, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildGEP2(g->b, type, base, &index, 1, "");
}

/* Elements first + w (tid + i * threads) .. + w - 1 (below first + count
 * and the tile's end) of the tile, w = 4 (quads, 16-byte loads) where a
 * batch holds every split's quad: each element the sum of its splits'
 * partials in split order, then the epilogue. The partials were written by other
 * blocks: volatile (relaxed, system-scope) loads read them from L2, never
 * from a stale line of this SM's L1. The code is straight-line, every load
 * of a batch issued before the first add waits, so this costs a few L2
 * round trips, not one an element. first and count are multiples of w. */
static void sum_elements(gen *g, LLVMValueRef first, int64_t count, LLVMValueRef tile_id, LLVMValueRef scratch)
{
    const nf_gemm_plan *p = &g->p;
    enum { MAX_BATCH = 64 }; /* partials in registers at once */
    int64_t tile = nf_gemm_tile_elems(p), threads = nf_gemm_threads(p);
    /* quads where every thread gets one: 16-row tiles were as fast or
     * faster with more threads each loading single elements (H100: T = 32,
     * 16 x 16 x 14, 3.59 us in quads against 3.41) */
    int w = 4 * p->splits <= MAX_BATCH && count % 4 == 0 && count / 4 >= threads ? 4 : 1;
    int64_t units = count / w;
    int64_t iters = ceil_div(units, threads);
    bool short_pass = units % threads != 0;                       /* a 16 x 16 tile over 512 threads, a piece */
    bool past_tile = count * p->splits > tile && p->shared_tail; /* the last piece may end past the tile */
    int64_t batch = MAX_BATCH / (w * p->splits) > 0 ? MAX_BATCH / (w * p->splits) : 1;
    LLVMTypeRef vec = LLVMVectorType(g->f32, (unsigned)w);
    for (int64_t i0 = 0; i0 < iters; i0 += batch) {
        int64_t n = iters - i0 < batch ? iters - i0 : batch;
        LLVMValueRef sums[MAX_BATCH][4], elems[MAX_BATCH], valid[MAX_BATCH];
        for (int64_t i = 0; i < n; i++) {
            LLVMValueRef unit = add(g, g->tid, c64(g, (i0 + i) * threads));
            LLVMValueRef e = add(g, first, mul(g, unit, c64(g, w))), ok = NULL;
            if (short_pass)
                ok = lt(g, unit, c64(g, units));
            if (past_tile)
                ok = ok ? LLVMBuildAnd(g->b, ok, lt(g, e, c64(g, tile)), "") : lt(g, e, c64(g, tile));
            elems[i] = e;
            valid[i] = ok ? ok : lt(g, e, c64(g, tile));
            if (ok) /* outside: read element 0 again, store nothing */
                e = LLVMBuildSelect(g->b, ok, e, c64(g, 0), "");
            for (int k = 0; k < w; k++)
                sums[i][k] = NULL;
            for (int64_t sp = 0; sp < p->splits; sp++) {
                LLVMValueRef at = add(g, mul(g, add(g, c64(g, sp * p->mblocks * p->nblocks), tile_id), c64(g, tile)), e);
                LLVMValueRef v;
                if (w == 1) {
                    v = atomic_load(g, g->f32, f32_at(g, scratch, at), 4);
                } else {
                    v = LLVMBuildLoad2(g->b, vec, f32_at(g, scratch, at), "");
                    LLVMSetVolatile(v, 1);
                    LLVMSetAlignment(v, 16);
                }
                for (int k = 0; k < w; k++) {
                    LLVMValueRef x = w == 1 ? v : LLVMBuildExtractElement(g->b, v, c32(g, k), "");
                    sums[i][k] = sums[i][k] ? LLVMBuildFAdd(g->b, sums[i][k], x, "") : x;
                }
            }
        }
        for (int64_t i = 0; i < n; i++) {
            LLVMBasicBlockRef join = if_begin(g, valid[i]);
            for (int k = 0; k < w; k++) {
                LLVMValueRef e = add(g, elems[i], c64(g, k));
                LLVMValueRef r = LLVMBuildUDiv(g->b, e, c64(g, p->bn_rows), "");
                LLVMValueRef col = LLVMBuildURem(g->b, e, c64(g, p->bn_rows), "");
                nf_gemm_epilogue_at(g, add(g, g->m_block0, r), add(g, g->n0, col), sums[i][k]);
            }
            if_end(g, join);
        }
    }
}

/* The last block of the tile to arrive sums all of it. */
static void last_block_tail(gen *g, LLVMValueRef tile_id, LLVMValueRef scratch)
{
    const nf_gemm_plan *p = &g->p;
    int64_t tile = nf_gemm_tile_elems(p);
    LLVMValueRef flag = shared_words(g, "nf_gemm_last", g->i32, 1);
    /* The barrier orders every thread's partial before thread 0's
     * release-acquire increment (cumulative at gpu scope), and that
     * increment before the last block's reads: one fence for the block, not
     * one per thread. */
    barrier(g);
    LLVMValueRef counter = word_at(g, g->i32, f32_at(g, scratch, c64(g, p->splits * p->mblocks * p->nblocks * tile)), tile_id);
    LLVMBasicBlockRef join0 = if_begin(g, LLVMBuildICmp(g->b, LLVMIntEQ, g->tid, c64(g, 0), ""));
    fence(g);
    LLVMValueRef old = atomic_rmw(g, LLVMAtomicRMWBinOpAdd, counter, c32(g, 1));
    fence(g);
    LLVMBuildStore(g->b, LLVMBuildZExt(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, old, c32(g, (int)p->splits - 1), ""), g->i32, ""),
                   word_at(g, g->i32, flag, c64(g, 0)));
    if_end(g, join0);
    barrier(g);
    LLVMValueRef last = LLVMBuildLoad2(g->b, g->i32, word_at(g, g->i32, flag, c64(g, 0)), "");
    LLVMBasicBlockRef join1 = if_begin(g, LLVMBuildICmp(g->b, LLVMIntNE, last, c32(g, 0), ""));
    sum_elements(g, c64(g, 0), tile, tile_id, scratch);
    LLVMBasicBlockRef join2 = if_begin(g, LLVMBuildICmp(g->b, LLVMIntEQ, g->tid, c64(g, 0), ""));
    LLVMValueRef reset = LLVMBuildStore(g->b, c32(g, 0), counter); /* ready for the next launch */
    LLVMSetVolatile(reset, 1);
    if_end(g, join2);
    if_end(g, join1);
}

/* Thread 0 of a block that did not arrive last: whether every split of
 * its launch has arrived, reading the counter until it reaches `target` or
 * tail_wait_us have passed. */
static LLVMValueRef wait_for_splits(gen *g, LLVMValueRef counter, LLVMValueRef target)
{
    LLVMBasicBlockRef poll = LLVMAppendBasicBlockInContext(g->c, g->fn, "tail_poll");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->c, g->fn, "tail_waited");
    LLVMValueRef t0 = sreg(g, "llvm.nvvm.read.ptx.sreg.globaltimer");
    LLVMBuildBr(g->b, poll);
    LLVMPositionBuilderAtEnd(g->b, poll);
    LLVMValueRef arrived = LLVMBuildICmp(g->b, LLVMIntUGE, atomic_load(g, g->i64, counter, 8), target, "");
    LLVMValueRef waited = LLVMBuildSub(g->b, sreg(g, "llvm.nvvm.read.ptx.sreg.globaltimer"), t0, "");
    LLVMValueRef late = LLVMBuildICmp(g->b, LLVMIntUGT, waited, c64(g, (int64_t)g->p.tail_wait_us * 1000), "");
    LLVMBuildCondBr(g->b, LLVMBuildOr(g->b, arrived, late, ""), done, poll);
    LLVMPositionBuilderAtEnd(g->b, done);
    return arrived;
}

/* claim == from ? to, as one atomic: whether it was */
static LLVMValueRef compare_exchange(gen *g, LLVMValueRef claim, LLVMValueRef from, LLVMValueRef to)
{
    LLVMValueRef r = LLVMBuildAtomicCmpXchgSyncScope(g->b, claim, from, to, LLVMAtomicOrderingMonotonic,
                                                     LLVMAtomicOrderingMonotonic, gpu_scope(g));
    return LLVMBuildExtractValue(g->b, r, 1, "");
}

static void sc_fence(gen *g) { LLVMBuildFenceSyncScope(g->b, LLVMAtomicOrderingSequentiallyConsistent, gpu_scope(g), ""); }

/* A value computed only where cond holds: open, build it, close with the
 * value and the one to take elsewhere. */
typedef struct where {
    LLVMBasicBlockRef from, join;
} where;

static where where_open(gen *g, LLVMValueRef cond)
{
    where w = {LLVMGetInsertBlock(g->b), LLVMAppendBasicBlockInContext(g->c, g->fn, "where_join")};
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(g->c, g->fn, "where");
    LLVMBuildCondBr(g->b, cond, then, w.join);
    LLVMPositionBuilderAtEnd(g->b, then);
    return w;
}

static LLVMValueRef where_close(gen *g, where w, LLVMValueRef value, LLVMValueRef otherwise)
{
    LLVMBasicBlockRef then_end = LLVMGetInsertBlock(g->b);
    LLVMBuildBr(g->b, w.join);
    LLVMPositionBuilderAtEnd(g->b, w.join);
    LLVMValueRef phi = LLVMBuildPhi(g->b, LLVMTypeOf(value), "");
    LLVMAddIncoming(phi, (LLVMValueRef[]){value, otherwise}, (LLVMBasicBlockRef[]){then_end, w.from}, 2);
    return phi;
}

static LLVMValueRef flag(gen *g, LLVMValueRef sh, LLVMValueRef i) { return word_at(g, g->i64, sh, i); }
static void set_flag(gen *g, LLVMValueRef sh, LLVMValueRef i, LLVMValueRef bit)
{
    LLVMBuildStore(g->b, LLVMBuildZExt(g->b, bit, g->i64, ""), flag(g, sh, i));
}
static LLVMValueRef flag_set(gen *g, LLVMValueRef sh, LLVMValueRef i)
{
    return LLVMBuildICmp(g->b, LLVMIntNE, LLVMBuildLoad2(g->b, g->i64, flag(g, sh, i), ""), c64(g, 0), "");
}

/* Thread 0 of a block that did not arrive last: claims its piece, waits
 * for the others, and says in sh[0] whether it sums the piece. */
static void claim_and_wait(gen *g, LLVMValueRef sh, LLVMValueRef own, LLVMValueRef counter, LLVMValueRef target,
                           LLVMValueRef mark)
{
    LLVMValueRef before = atomic_rmw(g, LLVMAtomicRMWBinOpUMax, own, mark);
    LLVMValueRef arrived = wait_for_splits(g, counter, target);
    LLVMValueRef claimed = LLVMBuildICmp(g->b, LLVMIntULT, before, mark, "");
    set_flag(g, sh, c64(g, 0), LLVMBuildAnd(g->b, claimed, arrived, ""));
    LLVMBasicBlockRef join = if_begin(g, LLVMBuildAnd(g->b, claimed, LLVMBuildNot(g->b, arrived, ""), ""));
    LLVMValueRef given_up = add(g, mark, c64(g, 1));
    atomic_rmw(g, LLVMAtomicRMWBinOpUMax, own, given_up);
    sc_fence(g); /* against the last block's increment and fence */
    LLVMValueRef now = LLVMBuildICmp(g->b, LLVMIntUGE, atomic_load(g, g->i64, counter, 8), target, "");
    LLVMBasicBlockRef join_back = if_begin(g, now);
    set_flag(g, sh, c64(g, 0), compare_exchange(g, own, given_up, add(g, mark, c64(g, 2))));
    if_end(g, join_back);
    if_end(g, join);
}

/* Every block of the tile sums its own piece (see the top of the file).
 * A piece's claim word, in launch e: 3e its own block's, 3e + 1 given up
 * by it, 3e + 2 taken back (by it or by the last block); earlier launches
 * left less. Every block but the last claims its piece as it arrives, so
 * the last block, claiming the others while it sums its own, finds them
 * taken. A block that gives up marks its piece, then (after an SC fence,
 * against the last block's increment and fence) reads the counter: if the
 * last block has arrived it may have seen the piece still claimed, so the
 * block tries to take the piece back; whoever takes it sums it. */
static void shared_tail(gen *g, LLVMValueRef split, LLVMValueRef tile_id, LLVMValueRef scratch)
{
    const nf_gemm_plan *p = &g->p;
    int64_t tile = nf_gemm_tile_elems(p), tiles = p->mblocks * p->nblocks, splits = p->splits;
    int64_t piece = ceil_div(ceil_div(tile, splits), 4) * 4; /* whole quads */
    LLVMValueRef words = f32_at(g, scratch, c64(g, splits * tiles * tile)); /* u64: counters, then claims */
    LLVMValueRef counter = word_at(g, g->i64, words, tile_id);
    LLVMValueRef claims = word_at(g, g->i64, words, add(g, c64(g, tiles), mul(g, tile_id, c64(g, splits))));
    /* [0] this block sums its piece, [1] it arrived last, [2] the launch's
     * mark (3e), [3 + q] the last block sums piece q */
    LLVMValueRef sh = shared_words(g, "nf_gemm_tail", g->i64, 3 + NF_GEMM_SHARED_TAIL_SPLITS);
    barrier(g); /* every thread's partial before thread 0's release (see last_block_tail) */
    LLVMBasicBlockRef join0 = if_begin(g, LLVMBuildICmp(g->b, LLVMIntEQ, g->tid, c64(g, 0), ""));
    {
        fence(g);
        LLVMValueRef old = atomic_rmw(g, LLVMAtomicRMWBinOpAdd, counter, c64(g, 1));
        LLVMValueRef launch = add(g, LLVMBuildUDiv(g->b, old, c64(g, splits), ""), c64(g, 1));
        LLVMValueRef target = mul(g, launch, c64(g, splits)), mark = mul(g, launch, c64(g, 3));
        LLVMValueRef last = LLVMBuildICmp(g->b, LLVMIntEQ, add(g, old, c64(g, 1)), target, "");
        set_flag(g, sh, c64(g, 0), last);
        set_flag(g, sh, c64(g, 1), last);
        LLVMBuildStore(g->b, mark, flag(g, sh, c64(g, 2)));
        LLVMBasicBlockRef join = if_begin(g, LLVMBuildNot(g->b, last, ""));
        claim_and_wait(g, sh, word_at(g, g->i64, claims, split), counter, target, mark);
        if_end(g, join);
        /* the last block: its increment before its claims of the others'
         * pieces; every block: the others' partials before its reads */
        sc_fence(g);
    }
    if_end(g, join0);
    barrier(g);

    /* The last block claims the other pieces, and sums after its own those
     * it takes: still unclaimed (their claims not yet arrived) or given up.
     * The claims' answers are awaited after its own sum. */
    LLVMValueRef last = flag_set(g, sh, c64(g, 1));
    LLVMValueRef mark = LLVMBuildLoad2(g->b, g->i64, flag(g, sh, c64(g, 2)), "");
    LLVMValueRef given_up = add(g, mark, c64(g, 1));
    LLVMValueRef other = LLVMBuildAnd(g->b, lt(g, g->tid, c64(g, splits)), LLVMBuildICmp(g->b, LLVMIntNE, g->tid, split, ""), "");
    LLVMValueRef theirs = word_at(g, g->i64, claims, g->tid);
    where w = where_open(g, LLVMBuildAnd(g->b, last, other, ""));
    sc_fence(g); /* this thread's claim after the increment (and the barrier) */
    LLVMValueRef seen = where_close(g, w, atomic_rmw(g, LLVMAtomicRMWBinOpUMax, theirs, mark), mark);
    LLVMBasicBlockRef join1 = if_begin(g, flag_set(g, sh, c64(g, 0)));
    sum_elements(g, mul(g, split, c64(g, piece)), piece, tile_id, scratch);
    if_end(g, join1);

    LLVMBasicBlockRef join2 = if_begin(g, last);
    {
        w = where_open(g, LLVMBuildICmp(g->b, LLVMIntEQ, seen, given_up, ""));
        LLVMValueRef no = LLVMConstInt(LLVMInt1TypeInContext(g->c), 0, 0);
        LLVMValueRef back = where_close(g, w, compare_exchange(g, theirs, given_up, add(g, mark, c64(g, 2))), no);
        LLVMValueRef took = LLVMBuildOr(g->b, LLVMBuildICmp(g->b, LLVMIntULT, seen, mark, ""), back, "");
        LLVMBasicBlockRef join = if_begin(g, lt(g, g->tid, c64(g, splits)));
        set_flag(g, sh, add(g, g->tid, c64(g, 3)), took);
        if_end(g, join);
        barrier(g);
        LLVMBasicBlockRef entry = LLVMGetInsertBlock(g->b);
        LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->c, g->fn, "piece");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->c, g->fn, "pieces_done");
        LLVMBuildBr(g->b, head);
        LLVMPositionBuilderAtEnd(g->b, head);
        LLVMValueRef q = LLVMBuildPhi(g->b, g->i64, "q");
        LLVMBasicBlockRef join_q = if_begin(g, flag_set(g, sh, add(g, q, c64(g, 3))));
        sum_elements(g, mul(g, q, c64(g, piece)), piece, tile_id, scratch);
        if_end(g, join_q);
        LLVMValueRef next = add(g, q, c64(g, 1));
        LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
        LLVMAddIncoming(q, (LLVMValueRef[]){c64(g, 0), next}, (LLVMBasicBlockRef[]){entry, latch}, 2);
        LLVMBuildCondBr(g->b, lt(g, next, c64(g, splits)), head, done);
        LLVMPositionBuilderAtEnd(g->b, done);
    }
    if_end(g, join2);
}

void nf_gemm_split_tail(gen *g, LLVMValueRef tile_id, LLVMValueRef split, LLVMValueRef scratch)
{
    if (g->p.shared_tail)
        shared_tail(g, split, tile_id, scratch);
    else
        last_block_tail(g, tile_id, scratch);
}
