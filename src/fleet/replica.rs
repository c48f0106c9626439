//! One model replica of an LLM server: a continuous-batching (or static-batching) scheduler
//! whose step times come from the roofline in [`crate::timing`].
//!
//! Speed by design: the replica never schedules an event per token. It plans a *run* of
//! steps in which the batch does not change (every sequence decoding, nobody joining or
//! leaving, KV memory sufficient) and the simulation schedules one wake-up at the end of the
//! run. Decode step time is linear in the total context (`a + b·C`), so the end of a run of
//! `k` steps is a closed form; an arrival that can join cuts the run short at the next step
//! boundary ([`Replica::interrupt`]). A prefill step after which the batch only decodes is
//! planned together with that decode run (one wake-up for both); an arrival during the
//! prefill cuts the run to zero steps, so it still joins at the prefill's end. Inside the
//! batch (`fleet/batch.rs`) decoding sequences advance on one shared token clock, so neither
//! a run's end nor a prefill step visits them one by one.
//!
//! KV memory is counted in tokens (the capacity is already rounded down to 16-token blocks;
//! paged attention wastes under 4% per sequence, which `mem_util` absorbs). A sequence holds
//! its whole context (prompt + tokens generated so far). Admission is FIFO: the head of the
//! queue is admitted when its prompt fits and a batch place is free. When a decode step finds
//! no free KV memory, the most recently admitted sequence is preempted and later recomputed
//! (vLLM's default), keeping the tokens it already generated. The scheduler never reads a
//! sequence's output length to decide anything: the output length only tells the simulation
//! when the sequence emits its end-of-sequence token.

use std::collections::VecDeque;

/// The batching mode is a scenario setting (`servers.batching`).
use crate::scenario::Batching;

use super::batch::{Batch, Hot};
use crate::engine::time::{f64_of, round_to_u64, trunc_to_u64};
use crate::engine::{SimDuration, SimTime};
use crate::timing::{StepCosts, StepShape, ToStepCosts};

/// Scheduler limits of one replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchLimits {
    /// Batching mode.
    pub batching: Batching,
    /// Sequences in one step.
    pub max_batch: u32,
    /// New tokens (prefill + decode) in one step.
    pub max_batch_tokens: u32,
    /// Split prompts into chunks that share steps with decodes under the token budget.
    pub chunked_prefill: bool,
    /// Steps that prefill prompts carry no decodes (vLLM v0's prefill-first iterations):
    /// running sequences wait while prompts are processed.
    pub prefill_stalls_decodes: bool,
    /// KV capacity in tokens for running sequences.
    pub kv_capacity_tokens: u64,
    /// The prefix (KV block) cache, if enabled.
    pub prefix: Option<PrefixConfig>,
}

/// A replica's prefix cache: whole KV blocks of earlier prompts kept for reuse.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrefixConfig {
    /// Tokens per block (512, Mooncake's hash granularity).
    pub block_tokens: u32,
    /// Blocks the cache may hold (its share of KV memory).
    pub capacity_blocks: u64,
    /// Tokens of a system prompt shared by every request (its blocks are shared).
    pub system_prompt_tokens: u32,
}

/// Block ids of a prompt without trace hashes: the shared system prompt's blocks, then
/// blocks keyed by (session, position). Round k's prompt begins with round k-1's whole
/// conversation, so its chain extends the earlier round's chain.
pub fn synthetic_chain(seq: &Seq, cfg: &PrefixConfig) -> Vec<u64> {
    let bt = cfg.block_tokens.max(1);
    let n = seq.prompt_len().div_ceil(bt);
    let sys_blocks = cfg.system_prompt_tokens / bt;
    (0..n)
        .map(|i| {
            if i < sys_blocks {
                crate::engine::rng::mix64(0x5359_5354_454d ^ u64::from(i))
            } else {
                crate::engine::rng::mix64(
                    seq.session().0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(i) << 1) ^ 1,
                )
            }
        })
        .collect()
}

/// The chain a sequence uses with the prefix cache.
pub fn chain_of(seq: &Seq, cfg: &PrefixConfig) -> std::sync::Arc<Vec<u64>> {
    match seq.blocks() {
        Some(b) => b.clone(),
        None => std::sync::Arc::new(synthetic_chain(seq, cfg)),
    }
}

/// A request inside a replica: one 64-byte cache line (a replica holds thousands of them
/// and touches each one when it arrives, joins the batch and leaves); what only sessions of
/// several rounds and the prefix cache need sits in a box beside it.
#[derive(Clone, Debug)]
#[repr(align(64))]
pub struct Seq {
    /// Request id (arrival order).
    pub id: u64,
    /// Arrival time at the fleet.
    pub arrival: SimTime,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Tokens this request will generate (known to the simulation, not to the scheduler).
    pub output_tokens: u32,
    /// Prompt (plus, after a preemption, regenerated) tokens whose KV is computed.
    prefilled: u32,
    /// Output tokens generated so far.
    generated: u32,
    /// Prompt tokens planned for the step in progress.
    pending_chunk: u32,
    /// Prompt tokens found in the prefix cache at admission (their prefill is skipped).
    pub cached: u32,
    /// When it was first admitted into a batch ([`SimTime::NEVER`]: not yet).
    admitted: SimTime,
    /// When its first output token appeared ([`SimTime::NEVER`]: not yet).
    first_token: SimTime,
    /// Session and prefix-cache state, when there is any.
    ext: Option<Box<SeqExt>>,
}

const _: () = assert!(std::mem::size_of::<Seq>() == 64);

/// The rarely needed part of a [`Seq`].
#[derive(Clone, Debug, Default)]
struct SeqExt {
    /// The session (its first round's id), round (from 1) and when the session began, when
    /// not the request's own (id, 1, arrival).
    session: Option<(u64, u32, SimTime)>,
    /// KV block ids of the prompt (a trace's hash ids), if known; otherwise the prefix cache
    /// derives them from the session (see [`synthetic_chain`]).
    blocks: Option<std::sync::Arc<Vec<u64>>>,
    /// Leading blocks of `chain` pinned in the prefix cache while this sequence runs.
    pinned: usize,
    /// The block chain used with the prefix cache.
    chain: Option<std::sync::Arc<Vec<u64>>>,
    /// Prompt tokens found cached at the first admission (for the hit fraction).
    first_cached: Option<u32>,
}

/// `SimTime::NEVER` reads as `None`.
#[inline]
fn known(t: SimTime) -> Option<SimTime> {
    (t != SimTime::NEVER).then_some(t)
}

impl Seq {
    /// A new request with its token counts (each at least 1).
    pub fn new(id: u64, arrival: SimTime, input_tokens: u32, output_tokens: u32) -> Seq {
        Seq {
            id,
            arrival,
            input_tokens: input_tokens.max(1),
            output_tokens: output_tokens.max(1),
            ..Seq::VACANT
        }
    }

    /// The record a free slot of a replica's slab holds (and, with an id, arrival and token
    /// counts, a new request: nothing computed, admitted or emitted yet).
    const VACANT: Seq = Seq {
        id: u64::MAX,
        arrival: SimTime::NEVER,
        input_tokens: 0,
        output_tokens: 0,
        prefilled: 0,
        generated: 0,
        pending_chunk: 0,
        cached: 0,
        admitted: SimTime::NEVER,
        first_token: SimTime::NEVER,
        ext: None,
    };

    /// Tokens whose KV must be present before decoding continues.
    fn prompt_len(&self) -> u32 {
        self.input_tokens + self.generated
    }

    /// Output tokens generated so far.
    pub fn generated(&self) -> u32 {
        self.generated
    }

    /// When it was first admitted into a batch.
    #[inline]
    pub fn admitted(&self) -> Option<SimTime> {
        known(self.admitted)
    }

    /// Sets (or clears) when it was first admitted.
    pub fn set_admitted(&mut self, at: Option<SimTime>) {
        self.admitted = at.unwrap_or(SimTime::NEVER);
    }

    /// When its first output token appeared.
    #[inline]
    pub fn first_token(&self) -> Option<SimTime> {
        known(self.first_token)
    }

    /// Sets (or clears) when its first output token appeared.
    pub fn set_first_token(&mut self, at: Option<SimTime>) {
        self.first_token = at.unwrap_or(SimTime::NEVER);
    }

    /// The session this request belongs to (its first round's id), its round (from 1) and
    /// when the session began.
    #[inline]
    pub fn session(&self) -> (u64, u32, SimTime) {
        self.ext
            .as_ref()
            .and_then(|e| e.session)
            .unwrap_or((self.id, 1, self.arrival))
    }

    /// Sets the session, round and session start (see [`Seq::session`]).
    pub fn set_session(&mut self, session: u64, round: u32, start: SimTime) {
        let own = (session, round, start) == (self.id, 1, self.arrival);
        if !own {
            self.ext_mut().session = Some((session, round, start));
        } else if let Some(e) = &mut self.ext {
            e.session = None;
        }
    }

    /// KV block ids of the prompt (a trace's hash ids), if known.
    pub fn blocks(&self) -> Option<&std::sync::Arc<Vec<u64>>> {
        self.ext.as_ref().and_then(|e| e.blocks.as_ref())
    }

    /// Sets the prompt's KV block ids.
    pub fn set_blocks(&mut self, blocks: Option<std::sync::Arc<Vec<u64>>>) {
        if blocks.is_some() || self.ext.is_some() {
            self.ext_mut().blocks = blocks;
        }
    }

    /// Prompt tokens found cached at the first admission (for the hit fraction).
    #[inline]
    pub fn first_cached(&self) -> Option<u32> {
        self.ext.as_ref().and_then(|e| e.first_cached)
    }

    fn ext_mut(&mut self) -> &mut SeqExt {
        self.ext.get_or_insert_with(Box::default)
    }
}

/// A finished request, for the metrics.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The sequence as it ended.
    pub seq: Seq,
    /// When its last token appeared.
    pub at: SimTime,
}

/// What the steps of a run did, for utilisation metrics (per replica, all GPUs together).
#[derive(Clone, Copy, Debug, Default)]
pub struct StepTotals {
    /// Steps executed.
    pub steps: u64,
    /// Busy seconds.
    pub busy_s: f64,
    /// Σ batch size × step seconds.
    pub batch_area: f64,
    /// Σ KV tokens held × step seconds.
    pub kv_area: f64,
    /// Bytes moved from HBM.
    pub bytes: f64,
    /// Floating-point operations.
    pub flops: f64,
    /// Output tokens generated.
    pub output_tokens: u64,
    /// Prompt tokens processed (recomputation included).
    pub prefill_tokens: u64,
}

/// The run of steps in progress.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: SimTime,
    /// Steps in the run.
    steps: u64,
    /// Decode-only run: step j (from 0) takes `a_s + b_s·j` seconds. A mixed step is a run of
    /// one with `b_s = 0`.
    a_s: f64,
    b_s: f64,
    decode_only: bool,
    /// Decode-only run: the batch's total context at the run's start (the batch does not
    /// change until the run completes). 0 for a mixed step.
    ctx0: u64,
    /// The end of its `steps` steps (`end_of(steps)`, kept with `steps`).
    end: SimTime,
}

impl Run {
    /// Seconds from the run's start to the end of its first `j` steps.
    fn elapsed_s(&self, j: u64) -> f64 {
        let j = j as f64;
        j * self.a_s + self.b_s * j * (j - 1.0) / 2.0
    }

    fn end_of(&self, j: u64) -> SimTime {
        self.start + SimDuration::from_secs_f64(self.elapsed_s(j))
    }

    /// A run of `steps` steps from `start`, step j taking `a_s + b_s·j` seconds.
    fn new(start: SimTime, steps: u64, a_s: f64, b_s: f64, decode_only: bool, ctx0: u64) -> Run {
        let mut run = Run {
            start,
            steps,
            a_s,
            b_s,
            decode_only,
            ctx0,
            end: start,
        };
        run.set_steps(steps);
        run
    }

    /// Shortens (or sets) the run to `steps` steps, and its end with it.
    fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
        self.end = self.end_of(steps);
    }

    /// The fewest steps `j` in `1..=steps` whose end is at or after `target_s` seconds from
    /// the start (`steps` if none): what a bisection over `elapsed_s` finds, found from the
    /// closed form of the quadratic and checked against `elapsed_s` itself. `elapsed_s` is
    /// monotone in `j` in floating point when `a_s, b_s ≥ 0` (every operation is), so the
    /// checked answer is the bisection's; otherwise it bisects.
    fn first_boundary_at(&self, target_s: f64) -> u64 {
        let reached = |j: u64| self.elapsed_s(j) >= target_s;
        let (a, b) = (self.a_s, self.b_s);
        if !(a > 0.0 && b >= 0.0 && target_s.is_finite()) {
            return self.bisect_boundary_at(target_s);
        }
        // a·j + b·j(j−1)/2 = target.
        let guess = if b > 0.0 {
            let p = a - b / 2.0;
            ((p * p + 2.0 * b * target_s).sqrt() - p) / b
        } else {
            target_s / a
        };
        let mut j = (guess.ceil().max(1.0) as u64).min(self.steps);
        while j > 1 && reached(j - 1) {
            j -= 1;
        }
        while j < self.steps && !reached(j) {
            j += 1;
        }
        j
    }

    /// [`Run::first_boundary_at`] by bisection over `elapsed_s`.
    fn bisect_boundary_at(&self, target_s: f64) -> u64 {
        let (mut lo, mut hi) = (1u64, self.steps);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.elapsed_s(mid) >= target_s {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }
}

impl Hot {
    /// `seq`'s counters, its full record kept at `slot`.
    fn of(seq: &Seq, slot: u32) -> Hot {
        Hot::new(
            seq.input_tokens,
            seq.output_tokens,
            seq.prefilled,
            seq.generated,
            seq.pending_chunk,
            seq.cached,
            slot,
            seq.admitted().is_some(),
            seq.first_token().is_some(),
        )
    }

    /// Copies the counters back into the full record.
    fn write_back(&self, seq: &mut Seq) {
        seq.prefilled = self.prefilled;
        seq.generated = self.generated;
        seq.pending_chunk = self.pending_chunk;
        seq.cached = self.cached;
    }
}

/// Waiting requests whose records admission asks for ahead (most wake-ups admit fewer).
const ADMIT_PREFETCH: usize = 4;

/// The full records of a replica's sequences (queued or running), by slot; slots of
/// sequences that left are reused, so records never move while their sequence is here.
#[derive(Default)]
struct Parked {
    /// Records by slot; a free slot holds [`Seq::VACANT`].
    seqs: Vec<Seq>,
    free: Vec<u32>,
}

impl Parked {
    /// Stores `seq`; returns its slot.
    fn put(&mut self, seq: Seq) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.seqs[slot as usize] = seq;
                slot
            }
            None => {
                self.seqs.push(seq);
                (self.seqs.len() - 1) as u32
            }
        }
    }

    /// Starts loading the record at `slot` into the caches (a memory hint; any slot is
    /// harmless).
    #[inline]
    fn prefetch(&self, slot: u32) {
        if let Some(seq) = self.seqs.get(slot as usize) {
            crate::engine::hint::prefetch_addr(seq as *const Seq as usize);
        }
    }

    /// The record of a sequence here.
    #[inline]
    fn get(&self, slot: u32) -> &Seq {
        let seq = &self.seqs[slot as usize];
        debug_assert_ne!(seq.id, u64::MAX, "a sequence's slot holds its record");
        seq
    }

    /// The record of a sequence here, to update.
    #[inline]
    fn get_mut(&mut self, slot: u32) -> &mut Seq {
        let seq = &mut self.seqs[slot as usize];
        debug_assert_ne!(seq.id, u64::MAX, "a sequence's slot holds its record");
        seq
    }

    /// Takes back the record of `hot`'s sequence, counters up to date, freeing its slot.
    fn take(&mut self, hot: &Hot) -> Seq {
        let mut seq = std::mem::replace(&mut self.seqs[hot.slot as usize], Seq::VACANT);
        debug_assert_ne!(seq.id, u64::MAX, "a sequence's slot holds its record");
        self.free.push(hot.slot);
        hot.write_back(&mut seq);
        seq
    }
}

/// One model replica: its queue, its batch, its KV memory.
pub struct Replica {
    limits: BatchLimits,
    /// The queue, oldest first: slots in `parked`, whose records are up to date (4 bytes a
    /// queued request: queues grow long under overload).
    waiting: VecDeque<u32>,
    /// The batch in admission order (the order steps serve it in): decoding sequences on a
    /// shared token clock, prefilling ones apart (see `fleet/batch.rs`).
    batch: Batch,
    /// The full records of the queue and the batch.
    parked: Parked,
    /// Σ `cached` over the batch: with `kv_used_tokens` (Σ `prefilled - cached`), the batch's
    /// total context without a pass over it.
    cached_sum: u64,
    kv_used_tokens: u64,
    run: Option<Run>,
    /// Static batching: the current batch is closed to newcomers.
    batch_closed: bool,
    /// Preemptions so far.
    pub preemptions: u64,
    /// The prefix cache, if enabled.
    pub cache: Option<Box<crate::cache::prefix::PrefixCache>>,
    /// Step accounting inside the measured window.
    pub totals: StepTotals,
    measure_from: SimTime,
    measure_to: SimTime,
    /// Multiplies every step time (see [`Replica::with_step_time_scale`]).
    step_time_scale: f64,
}

impl Replica {
    /// The same replica with every step time multiplied by `scale` (1 leaves times exact).
    pub fn with_step_time_scale(mut self, scale: f64) -> Replica {
        self.step_time_scale = scale;
        self
    }

    /// An idle replica, measuring utilisation over [measure_from, measure_to].
    pub fn new(limits: BatchLimits, measure_from: SimTime, measure_to: SimTime) -> Replica {
        Replica {
            limits,
            waiting: VecDeque::new(),
            batch: Batch::default(),
            parked: Parked::default(),
            cached_sum: 0,
            kv_used_tokens: 0,
            run: None,
            batch_closed: false,
            preemptions: 0,
            cache: limits.prefix.map(|p| {
                Box::new(crate::cache::prefix::PrefixCache::new(Some(
                    p.capacity_blocks,
                )))
            }),
            totals: StepTotals::default(),
            measure_from,
            measure_to,
            step_time_scale: 1.0,
        }
    }

    /// Starts loading this replica's record (a memory hint): every cache line of it.
    #[inline]
    pub fn prefetch(&self) {
        let base = self as *const Replica as usize;
        for line in (0..std::mem::size_of::<Replica>()).step_by(64) {
            crate::engine::hint::prefetch_addr(base + line);
        }
    }

    /// Addresses of what the wake-up planned last will read first (0 for none): memory hints,
    /// stale ones are harmless. When a sequence then leaves, its record and its batch entry;
    /// when requests wait, the record of the first (admission reads it at every wake-up).
    pub fn next_wake_addrs(&self) -> [usize; 3] {
        let record = |slot: u32| &self.parked.seqs[slot as usize] as *const Seq as usize;
        let leaves = self
            .run
            .as_ref()
            .and_then(|run| self.batch.finishing_within(run.steps));
        let (leaving, entry) = match leaves {
            Some(slot) => (record(slot), self.batch.first_addr()),
            None => (0, 0),
        };
        let head = self.waiting.front().map_or(0, |&slot| record(slot));
        [leaving, entry, head]
    }

    /// Requests here: running or waiting.
    pub fn outstanding(&self) -> usize {
        self.batch.len() + self.waiting.len()
    }

    /// Requests waiting for a batch place.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether a run of steps is in progress.
    pub fn is_stepping(&self) -> bool {
        self.run.is_some()
    }

    /// Sequences in the current batch.
    pub fn batch_len(&self) -> usize {
        self.batch.len()
    }

    /// KV tokens held now.
    pub fn kv_used_tokens(&self) -> u64 {
        self.kv_used_tokens
    }

    /// Every request still here, running (decoding ones first) then waiting (for in-flight
    /// counts at the end of a run): copies, with their counters up to date.
    pub fn all_seqs(&self) -> impl Iterator<Item = Seq> + '_ {
        let running = self.batch.iter().map(|h| {
            let mut seq = self.parked.get(h.slot).clone();
            h.write_back(&mut seq);
            seq
        });
        running.chain(
            self.waiting
                .iter()
                .map(|&slot| self.parked.get(slot).clone()),
        )
    }

    /// Queues a request.
    pub fn enqueue(&mut self, seq: Seq) {
        let slot = self.parked.put(seq);
        self.waiting.push_back(slot);
    }

    /// An arrival was queued while a run is in progress. If the newcomer could join at a step
    /// boundary before the run ends, cut the run there and return its new end.
    pub fn interrupt(&mut self, now: SimTime) -> Option<SimTime> {
        let run = self.run.as_mut()?;
        if self.batch_closed
            || self.limits.batching == Batching::Static
            || self.batch.len() >= self.limits.max_batch as usize
        {
            return None;
        }
        if now < run.start {
            // A prefill step fused with this run is still going: the first boundary is its
            // end, where the run starts.
            if run.steps == 0 {
                return None;
            }
            run.set_steps(0);
            return Some(run.end);
        }
        if !run.decode_only || run.steps <= 1 {
            return None;
        }
        // The first step boundary at or after `now`.
        let lo = run.first_boundary_at(now.since(run.start).as_secs_f64());
        if lo >= run.steps {
            return None;
        }
        run.set_steps(lo);
        Some(run.end)
    }

    /// Ends the current run at `now` (its planned end), applying its steps; finished requests
    /// are appended to `done`.
    /// `model` is the replica's [`crate::timing::Deployment`] or its precomputed [`StepCosts`]
    /// (faster).
    pub fn complete<M: ToStepCosts + ?Sized>(
        &mut self,
        now: SimTime,
        model: &M,
        done: &mut Vec<Finished>,
    ) {
        let Some(run) = self.run.take() else {
            return;
        };
        let costs = &*model.step_costs_cow();
        if run.decode_only {
            // Every sequence of a decode run appends `k` tokens (none joined or left
            // meanwhile): one clock tick for the whole batch.
            self.account_decode(&run, costs);
            self.kv_used_tokens += run.steps * self.batch.len() as u64;
            self.batch.advance(run.steps);
        } else {
            self.account_mixed(&run, costs);
            self.apply_mixed(now);
        }
        // Sequences that emitted their last token leave, in batch order. Their records are
        // asked for first, so that the cache misses of several leavers overlap.
        for slot in self.batch.finishing_slots_within(0) {
            self.parked.prefetch(slot);
        }
        while let Some(mut h) = self.batch.pop_finished() {
            let mut seq = self.parked.take(&h);
            Self::release_from(
                &mut self.kv_used_tokens,
                &mut self.cached_sum,
                &mut self.cache,
                &mut h,
                &mut seq,
            );
            h.write_back(&mut seq);
            done.push(Finished { seq, at: now });
        }
        if self.batch.is_empty() {
            self.batch_closed = false;
        }
    }

    /// Applies a mixed (prefill) step that ended at `at`: decodes append a token, prompt
    /// chunks land in KV, and a prompt that completes emits its first token.
    fn apply_mixed(&mut self, at: SimTime) {
        // The records of prompts this step completes are written below: asked for first.
        for s in self.batch.prefilling() {
            if s.prefilled + s.pending_chunk >= s.prompt_len() {
                self.parked.prefetch(s.slot);
            }
        }
        if !self.limits.prefill_stalls_decodes {
            self.kv_used_tokens += self.batch.decoding_len() as u64;
            self.batch.advance(1);
        }
        let mut i = 0;
        while i < self.batch.prefilling().len() {
            let s = &mut self.batch.prefilling_mut()[i];
            let chunk = s.pending_chunk;
            s.prefilled += chunk;
            self.kv_used_tokens += u64::from(chunk);
            s.pending_chunk = 0;
            if !s.decoding() {
                i += 1;
                continue;
            }
            if self.cache.is_some() {
                let seq = self.parked.get(s.slot);
                Self::publish_prefix(&mut self.cache, self.limits.prefix, seq, s.prompt_len());
            }
            if !s.first_token {
                s.first_token = true;
                self.parked.get_mut(s.slot).first_token = at;
            }
            // The pass that completes a prompt emits the next token; like every generated
            // token, it holds a KV slot from now on.
            s.generated += 1;
            s.prefilled += 1;
            self.kv_used_tokens += 1;
            self.batch.promote(i);
        }
    }

    /// Whether the planned mixed step leaves a batch that only decodes, with nobody leaving
    /// and KV room for the next decode step: then the decode run after it can be planned now,
    /// and the two share one wake-up (the state the decode run starts from is the same as if
    /// it were planned at the mixed step's end).
    fn mixed_step_fuses(&self) -> bool {
        if self.limits.batching != Batching::Continuous
            || self.limits.prefix.is_some()
            || self.limits.prefill_stalls_decodes
        {
            return false;
        }
        if self.batch.min_left_decoding().is_some_and(|left| left <= 1) {
            return false;
        }
        let mut kv_after = self.kv_used_tokens + self.batch.decoding_len() as u64;
        for s in self.batch.prefilling() {
            if s.prefilled + s.pending_chunk < s.prompt_len() || s.generated + 1 >= s.output_tokens
            {
                return false;
            }
            kv_after += u64::from(s.pending_chunk) + 1;
        }
        kv_after + self.batch.len() as u64 <= self.limits.kv_capacity_tokens
    }

    /// Plans the next run of steps at `now`; returns its end, or `None` when idle.
    /// `model` is the replica's [`crate::timing::Deployment`] or its precomputed [`StepCosts`]
    /// (faster).
    pub fn plan<M: ToStepCosts + ?Sized>(&mut self, now: SimTime, model: &M) -> Option<SimTime> {
        debug_assert!(self.run.is_none());
        self.admit(now);
        if self.batch.is_empty() {
            return None;
        }
        let costs = &*model.step_costs_cow();
        // KV for the next step: every decoding sequence appends one token.
        let decoding = self.batch.decoding_len() as u64;
        if self.kv_used_tokens + decoding > self.limits.kv_capacity_tokens {
            // Preempt until the decodes counted before preempting fit.
            while self.kv_used_tokens + decoding > self.limits.kv_capacity_tokens
                && self.batch.len() > 1
            {
                self.preempt_latest();
            }
        }
        let all_decoding = self.batch.prefilling().is_empty();
        let run = if all_decoding {
            self.plan_decode_run(now, costs, model)
        } else {
            let mixed = self.plan_mixed_step(now, costs, model);
            if self.mixed_step_fuses() {
                // Apply the prefill step now and plan the decode run that follows it; the
                // run starts at the step's end (an arrival meanwhile cuts it to zero steps).
                let at = mixed.end;
                self.account_mixed(&mixed, costs);
                self.apply_mixed(at);
                self.plan_decode_run(at, costs, model)
            } else {
                mixed
            }
        };
        let end = run.end;
        self.run = Some(run);
        self.prefetch_for_wake();
        Some(end)
    }

    /// Asks early for the records the next wake-up will read (memory hints: hundreds of
    /// other events usually come first, time enough for the loads): those of the sequences
    /// that then leave, and those of the first waiting requests.
    fn prefetch_for_wake(&self) {
        if let Some(run) = &self.run {
            for slot in self.batch.finishing_slots_within(run.steps) {
                self.parked.prefetch(slot);
            }
        }
        self.prefetch_waiting();
    }

    /// Asks for the records of the first [`ADMIT_PREFETCH`] waiting requests (admission
    /// reads them).
    fn prefetch_waiting(&self) {
        for &slot in self.waiting.iter().take(ADMIT_PREFETCH) {
            self.parked.prefetch(slot);
        }
    }

    fn admit(&mut self, now: SimTime) {
        if self.limits.batching == Batching::Static && self.batch_closed {
            return;
        }
        // Admission reads the records of the first waiting requests: asked for first.
        self.prefetch_waiting();
        while let Some(&slot) = self.waiting.front() {
            if self.batch.len() >= self.limits.max_batch as usize {
                break;
            }
            let head = Hot::of(self.parked.get(slot), slot);
            // Room for the prompt (less what the prefix cache holds) and the first token.
            let hit = self.cached_prefix(&head);
            let need = u64::from(head.prompt_len() - hit) + 1;
            // A prompt larger than the whole KV memory is admitted alone (and overshoots)
            // rather than blocking the queue for ever.
            let fits = self.kv_used_tokens + self.reserved_prefill() + need
                <= self.limits.kv_capacity_tokens;
            if !fits && !self.batch.is_empty() {
                break;
            }
            self.waiting.pop_front();
            let mut hot = head;
            if !hot.admitted {
                hot.admitted = true;
                self.parked.get_mut(hot.slot).admitted = now;
            }
            self.attach_prefix(&mut hot);
            // Issue 17: a sequence whose KV arrived from a prefill replica holds it from
            // admission (zero for every other sequence: nothing is prefilled beyond its cache).
            self.kv_used_tokens += u64::from(hot.prefilled - hot.cached);
            self.cached_sum += u64::from(hot.cached);
            self.batch.push(hot);
        }
        if self.limits.batching == Batching::Static && !self.batch.is_empty() {
            self.batch_closed = true;
        }
    }

    /// Prompt tokens of `s` the prefix cache holds now (at most the prompt less one token:
    /// the last token is always computed, as it produces the next one).
    fn cached_prefix(&self, s: &Hot) -> u32 {
        let (Some(cache), Some(cfg)) = (&self.cache, &self.limits.prefix) else {
            return 0;
        };
        let chain = chain_of(self.parked.get(s.slot), cfg);
        let blocks = cache.lookup(&chain) as u64;
        (blocks * u64::from(cfg.block_tokens)).min(u64::from(s.prompt_len() - 1)) as u32
    }

    /// Pins `s`'s cached prefix and starts its prefill after it.
    fn attach_prefix(&mut self, s: &mut Hot) {
        let (Some(cache), Some(cfg)) = (&mut self.cache, &self.limits.prefix) else {
            return;
        };
        let seq = self.parked.get_mut(s.slot);
        let chain = chain_of(seq, cfg);
        let blocks = cache.pin(&chain);
        let hit = (blocks as u64 * u64::from(cfg.block_tokens)).min(u64::from(s.prompt_len() - 1));
        s.cached = hit as u32;
        s.prefilled = s.cached;
        let ext = seq.ext_mut();
        ext.pinned = blocks;
        ext.first_cached.get_or_insert(s.cached);
        ext.chain = Some(chain);
    }

    /// Frees a leaving (finished or preempted) sequence's KV memory and cache pins: `s` and
    /// its record `seq`.
    fn release_from(
        kv_used_tokens: &mut u64,
        cached_sum: &mut u64,
        cache: &mut Option<Box<crate::cache::prefix::PrefixCache>>,
        s: &mut Hot,
        seq: &mut Seq,
    ) {
        *kv_used_tokens -= u64::from(s.prefilled - s.cached);
        *cached_sum -= u64::from(s.cached);
        s.cached = 0;
        if let Some(ext) = &mut seq.ext {
            if let (Some(cache), Some(chain)) = (cache, &ext.chain) {
                cache.unpin(&chain[..ext.pinned]);
            }
            ext.pinned = 0;
            ext.chain = None;
        }
    }

    /// Puts a prompt's whole blocks into the prefix cache once its KV is computed
    /// (`prompt_len`: its prompt length now; `s`'s own counters may be stale).
    fn publish_prefix(
        cache: &mut Option<Box<crate::cache::prefix::PrefixCache>>,
        cfg: Option<PrefixConfig>,
        s: &Seq,
        prompt_len: u32,
    ) {
        let chain = s.ext.as_ref().and_then(|e| e.chain.as_ref());
        if let (Some(cache), Some(cfg), Some(chain)) = (cache, cfg, chain) {
            let full = (prompt_len / cfg.block_tokens.max(1)) as usize;
            cache.insert_or_refresh(&chain[..full.min(chain.len())]);
        }
    }

    /// KV still to be written by admitted sequences' unfinished prompts.
    fn reserved_prefill(&self) -> u64 {
        self.batch
            .prefilling()
            .iter()
            .map(|s| u64::from(s.prompt_len().saturating_sub(s.prefilled)))
            .sum()
    }

    fn preempt_latest(&mut self) {
        if let Some(mut h) = self.batch.pop_latest() {
            let seq = self.parked.get_mut(h.slot);
            Self::release_from(
                &mut self.kv_used_tokens,
                &mut self.cached_sum,
                &mut self.cache,
                &mut h,
                seq,
            );
            h.prefilled = 0;
            h.pending_chunk = 0;
            // Queued records are kept up to date.
            h.write_back(seq);
            self.preemptions += 1;
            self.waiting.push_front(h.slot);
        }
    }

    fn plan_decode_run<M: ToStepCosts + ?Sized>(
        &mut self,
        now: SimTime,
        costs: &StepCosts,
        model: &M,
    ) -> Run {
        let b = self.batch.len() as u64;
        // The batch's total context, and the run's end when the first sequence finishes;
        // it also ends when KV memory runs out or a waiting request can be admitted
        // (continuous batching admits at every boundary).
        // Both kept up to date as the batch changes, so no pass over it is needed here.
        let ctx0 = self.kv_used_tokens + self.cached_sum;
        debug_assert_eq!(ctx0, self.batch.decoding_ctx());
        debug_assert!(
            self.batch
                .in_order()
                .iter()
                .all(|h| h.decoding() && h.prefilled == h.input_tokens + h.generated)
        );
        let mut to_finish = u64::from(self.batch.min_left_decoding().unwrap_or(u32::MAX));
        if self.batch.is_empty() {
            to_finish = 1;
        }
        let kv_room = self
            .limits
            .kv_capacity_tokens
            .saturating_sub(self.kv_used_tokens)
            / b;
        let mut steps = to_finish.min(kv_room.max(1));
        let admissible = self.limits.batching == Batching::Continuous
            && !self.waiting.is_empty()
            && self.batch.len() < self.limits.max_batch as usize;
        if admissible {
            steps = 1;
        }
        // The simulation's model keeps one table per replication for every replica.
        let fixed = model
            .decode_fixed_with(costs, b)
            .unwrap_or_else(|| costs.decode_fixed(b));
        let step = |ctx: u64| costs.decode_fixed_time_s(&fixed, b, ctx);
        let t0 = step(ctx0);
        let mut b_s = if steps > 1 { step(ctx0 + b) - t0 } else { 0.0 };
        // Decode step time is affine in the context while attention stays memory-bound;
        // check the far end, and fall back to one step at a time where it is not.
        if steps > 2 {
            let far = step(ctx0 + b * (steps - 1));
            let predicted = t0 + b_s * (steps - 1) as f64;
            if (far - predicted).abs() > 1e-9 * far.max(1e-12) {
                steps = 1;
                b_s = 0.0;
            }
        }
        Run::new(
            now,
            steps,
            t0 * self.step_time_scale,
            b_s * self.step_time_scale,
            true,
            ctx0,
        )
    }

    fn plan_mixed_step<M: ToStepCosts + ?Sized>(
        &mut self,
        now: SimTime,
        costs: &StepCosts,
        model: &M,
    ) -> Run {
        let mut shape = StepShape::default();
        let mut budget = u64::from(self.limits.max_batch_tokens);
        let stall = self.limits.prefill_stalls_decodes;
        // Decodes first (stall-free), one token each, unless prefill iterations stall them.
        if !stall {
            // Σ of `StepShape::decode(1, prefilled)` over decoding sequences, in integers: the
            // f64 sum of integer contexts is exact below 2^53 (the KV memory holds far fewer),
            // so the shape is the same bit for bit.
            let (n, ctx) = (self.batch.decoding_len() as u64, self.batch.decoding_ctx());
            debug_assert!(ctx < 1 << 53);
            if n > 0 {
                shape = StepShape::decode(n, ctx);
            }
            budget = budget.saturating_sub(n);
        }
        let chunked = self.limits.chunked_prefill;
        let mut first_prefill = true;
        for s in self.batch.prefilling_mut() {
            let remaining = u64::from(s.prompt_len() - s.prefilled);
            let chunk = if chunked {
                remaining.min(budget)
            } else if remaining <= budget || first_prefill {
                // Without chunking a prompt goes whole; the first one always fits a step.
                remaining
            } else {
                0
            };
            if chunk == 0 {
                continue;
            }
            first_prefill = false;
            budget = budget.saturating_sub(chunk);
            shape.add(&StepShape::prefill(chunk, u64::from(s.prefilled)));
            s.pending_chunk = chunk as u32;
        }
        let a_s = model.step_time_s_with(costs, &shape) * self.step_time_scale;
        Run::new(now, 1, a_s, 0.0, false, 0)
    }

    /// Adds a decode run's work to the totals, clipped to the measured window by time share.
    fn account_decode(&mut self, run: &Run, costs: &StepCosts) {
        let n = self.batch.len() as u64;
        let b = f64_of(n);
        let k = f64_of(run.steps);
        // The context the run planned from (the batch is unchanged since): an integer below
        // 2^53, so this equals the sum of the sequences' contexts in f64.
        let ctx0 = f64_of(run.ctx0);
        // Mean context over the run's steps.
        let ctx_mean = ctx0 + b * (k - 1.0) / 2.0;
        let shape = StepShape {
            tokens: n,
            attn_pairs: ctx_mean,
            prefill_pairs: 0.0,
            kv_read_tokens: trunc_to_u64(ctx_mean),
            kv_write_tokens: n,
            seqs: n,
            prefills: 0,
        };
        let busy_s = run.elapsed_s(run.steps);
        let share = self.window_share(run.start, run.end);
        let t = &mut self.totals;
        t.steps += run.steps;
        t.busy_s += busy_s * share;
        t.batch_area += b * busy_s * share;
        t.kv_area += (f64_of(self.kv_used_tokens) + b * k / 2.0) * busy_s * share;
        let (bytes, flops) = step_work(costs, &shape);
        t.bytes += bytes * k * share;
        t.flops += flops * k * share;
        t.output_tokens += round_to_u64((b * k) * share);
    }

    fn account_mixed(&mut self, run: &Run, costs: &StepCosts) {
        let mut shape = StepShape::default();
        let mut out = 0u64;
        let mut pre = 0u64;
        let decoding = self.batch.decoding_len() as u64;
        if !self.limits.prefill_stalls_decodes && decoding > 0 {
            // Σ of the decodes' one-token shapes, in integers: every field is an integer (or,
            // for prefills, a multiple of 1/2) far below 2^53, so sums in f64 are exact and
            // the shape is the same bit for bit whatever the order of the terms.
            shape.add(&StepShape::decode(decoding, self.batch.decoding_ctx()));
            out += decoding;
        }
        for s in self.batch.prefilling() {
            if s.pending_chunk > 0 {
                shape.add(&StepShape::prefill(
                    u64::from(s.pending_chunk),
                    u64::from(s.prefilled),
                ));
                pre += u64::from(s.pending_chunk);
                if s.prefilled + s.pending_chunk >= s.prompt_len() {
                    out += 1;
                }
            }
        }
        let busy_s = run.a_s;
        let share = self.window_share(run.start, run.end);
        let t = &mut self.totals;
        t.steps += 1;
        t.busy_s += busy_s * share;
        t.batch_area += f64_of(self.batch.len() as u64) * busy_s * share;
        t.kv_area += f64_of(self.kv_used_tokens) * busy_s * share;
        let (bytes, flops) = step_work(costs, &shape);
        t.bytes += bytes * share;
        t.flops += flops * share;
        t.output_tokens += round_to_u64(f64_of(out) * share);
        t.prefill_tokens += round_to_u64(f64_of(pre) * share);
    }

    /// The fraction of [start, end] inside the measured window.
    fn window_share(&self, start: SimTime, end: SimTime) -> f64 {
        if start >= self.measure_from && end <= self.measure_to && end > start {
            // Wholly inside: the general formula's x / x, which is exactly 1.
            return 1.0;
        }
        let lo = start.max(self.measure_from);
        let hi = end.min(self.measure_to);
        if end <= start {
            return if start >= self.measure_from && start < self.measure_to {
                1.0
            } else {
                0.0
            };
        }
        if hi <= lo {
            0.0
        } else {
            hi.since(lo).as_secs_f64() / end.since(start).as_secs_f64()
        }
    }
}

/// Bytes a step moves from HBM and FLOPs it does, over all GPUs of the replica.
fn step_work(costs: &StepCosts, shape: &StepShape) -> (f64, f64) {
    let (bytes, flops) = costs.work_per_gpu(shape);
    let tp = f64::from(costs.tensor_parallel);
    (bytes * tp, flops * tp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::{Deployment, Efficiency, gpu_preset, model_preset};

    fn dep70() -> Deployment {
        Deployment::new(
            gpu_preset("a100-80gb").unwrap(),
            8,
            4,
            model_preset("llama-2-70b").unwrap(),
            Efficiency::calibrated_default(4),
            0.9,
        )
        .unwrap()
    }

    fn limits(dep: &Deployment) -> BatchLimits {
        BatchLimits {
            batching: Batching::Continuous,
            max_batch: 256,
            max_batch_tokens: 8192,
            chunked_prefill: false,
            prefill_stalls_decodes: false,
            kv_capacity_tokens: dep.kv_capacity_tokens(),
            prefix: None,
        }
    }

    /// Drives one replica with the given arrivals until it is empty; returns finished seqs.
    fn drive(dep: &Deployment, lim: BatchLimits, arrivals: Vec<Seq>) -> Vec<Finished> {
        let mut rep = Replica::new(lim, SimTime::ZERO, SimTime::NEVER);
        let mut arrivals: VecDeque<Seq> = arrivals.into();
        let mut done = Vec::new();
        let mut wake: Option<SimTime> = None;
        loop {
            let next_arrival = arrivals.front().map(|s| s.arrival);
            match (next_arrival, wake) {
                (Some(a), w) if w.is_none_or(|w| a < w) => {
                    let s = arrivals.pop_front().unwrap();
                    rep.enqueue(s);
                    let nw = if rep.is_stepping() {
                        rep.interrupt(a)
                    } else {
                        rep.plan(a, dep)
                    };
                    if nw.is_some() {
                        wake = nw;
                    }
                }
                (_, Some(w)) => {
                    rep.complete(w, dep, &mut done);
                    wake = rep.plan(w, dep);
                }
                (None, None) => break,
                _ => unreachable!(),
            }
        }
        done
    }

    /// The closed-form step boundary is the bisection's, on random runs and targets.
    #[test]
    fn first_boundary_matches_bisection() {
        use rand::rngs::ChaCha8Rng;
        use rand::{RngExt, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200_000 {
            let steps = rng.random_range(2..3000);
            let a_s = rng.random_range(1e-4..0.1);
            let b_s = if rng.random_bool(0.1) {
                0.0
            } else {
                rng.random_range(0.0..1e-5)
            };
            let run = Run::new(SimTime::ZERO, steps, a_s, b_s, true, 0);
            let end = run.elapsed_s(run.steps);
            let target = match rng.random_range(0..3) {
                // Exactly on a boundary, or anywhere.
                0 => run.elapsed_s(rng.random_range(1..=run.steps)),
                1 => rng.random_range(0.0..end * 1.1),
                _ => 0.0,
            };
            let lo = run.bisect_boundary_at(target);
            assert_eq!(run.first_boundary_at(target), lo, "{run:?} target {target}");
        }
    }

    #[test]
    fn one_request_alone_has_ttft_equal_to_prefill_time() {
        let dep = dep70();
        let done = drive(
            &dep,
            limits(&dep),
            vec![Seq::new(0, SimTime::ZERO, 2048, 100)],
        );
        let s = &done[0].seq;
        let ttft = s.first_token().unwrap().as_secs_f64();
        let want = dep.prefill_time_s(2048);
        assert!((ttft - want).abs() < 1e-6, "ttft {ttft} vs prefill {want}");
        // The other 99 tokens are decode steps at batch 1.
        let decode = done[0].at.as_secs_f64() - ttft;
        let per = decode / 99.0;
        let lo = dep.decode_step_time_s(1, 2048);
        let hi = dep.decode_step_time_s(1, 2048 + 99);
        assert!(
            per >= lo - 1e-9 && per <= hi + 1e-9,
            "{per} not in [{lo}, {hi}]"
        );
    }

    #[test]
    fn a_long_prompt_joining_a_busy_batch_is_prefilled_at_the_next_step() {
        let dep = dep70();
        let mut arrivals: Vec<Seq> = (0..20)
            .map(|i| Seq::new(i, SimTime::from_secs_f64(i as f64 * 0.01), 500, 400))
            .collect();
        arrivals.push(Seq::new(99, SimTime::from_secs_f64(2.0), 9000, 10));
        let done = drive(&dep, limits(&dep), arrivals);
        let long = done.iter().find(|f| f.seq.id == 99).unwrap();
        let ttft = long.seq.first_token().unwrap().as_secs_f64() - 2.0;
        assert!(
            ttft < 2.0 * dep.prefill_time_s(9000) + 0.5,
            "ttft {ttft} s, prefill alone {} s",
            dep.prefill_time_s(9000)
        );
        assert_eq!(done.len(), 21);
    }

    #[test]
    fn an_arrival_during_a_prefill_step_joins_at_its_end() {
        // A's prefill step is planned together with the decode run after it; B arrives while
        // the prefill runs and must still join at the prefill's end, not after the run.
        let dep = dep70();
        let a = Seq::new(0, SimTime::ZERO, 2048, 50);
        let b = Seq::new(1, SimTime::from_secs_f64(0.05), 100, 10);
        let done = drive(&dep, limits(&dep), vec![a, b]);
        let a = &done.iter().find(|f| f.seq.id == 0).unwrap().seq;
        let b = &done.iter().find(|f| f.seq.id == 1).unwrap().seq;
        assert!(
            a.first_token().unwrap().as_secs_f64() > 0.05,
            "the arrival is inside A's prefill"
        );
        assert_eq!(b.admitted(), a.first_token());
    }

    /// vLLM v0's prefill-first iterations: a prompt arriving while a request decodes gets a
    /// step of its own, during which the decoding request emits nothing; with fused steps
    /// (current engines) the decode rides along. So the stalled request needs one more decode
    /// step at the end, and the newcomer's prefill step is a little shorter (no decode in it).
    #[test]
    fn prefill_only_iterations_stall_decodes() {
        let dep = dep70();
        let t_arrive = SimTime::ZERO + SimDuration::from_secs_f64(1.0);
        let arrivals = || {
            vec![
                Seq::new(0, SimTime::ZERO, 128, 200),
                Seq::new(1, t_arrive, 2048, 10),
            ]
        };
        let fused = drive(&dep, limits(&dep), arrivals());
        let stalled = drive(
            &dep,
            BatchLimits {
                prefill_stalls_decodes: true,
                ..limits(&dep)
            },
            arrivals(),
        );
        let end = |done: &[Finished], id: u64| {
            done.iter()
                .find(|f| f.seq.id == id)
                .unwrap()
                .at
                .as_secs_f64()
        };
        // Alone, request 0 would run 199 decode steps after its prefill.
        let alone = drive(
            &dep,
            limits(&dep),
            vec![Seq::new(0, SimTime::ZERO, 128, 200)],
        );
        let (a, f, st) = (end(&alone, 0), end(&fused, 0), end(&stalled, 0));
        assert!(f > a && st > f, "alone {a}, fused {f}, stalled {st}");
        // One decode step (batch 1 or 2, ~1,100 tokens of context) later.
        let (d1, d2) = (
            dep.decode_step_time_s(1, 1100),
            dep.decode_step_time_s(2, 2 * 1100),
        );
        assert!(
            st - f > 0.5 * d1 && st - f < 2.0 * d2,
            "stall {} vs decode steps {d1} {d2}",
            st - f
        );
        let ttft = |done: &[Finished]| {
            let s = &done.iter().find(|f| f.seq.id == 1).unwrap().seq;
            s.first_token().unwrap().as_secs_f64()
        };
        assert!(ttft(&stalled) < ttft(&fused));
        assert_eq!(stalled.len(), 2);
        assert!(
            stalled
                .iter()
                .all(|d| d.seq.generated() == d.seq.output_tokens)
        );
    }
}
