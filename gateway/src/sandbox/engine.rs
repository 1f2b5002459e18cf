//! The one wasmtime `Engine` every call runs on, and the clock that drives
//! its deadlines.
//!
//! The engine uses the pooling allocator (instances come from preallocated
//! slots: no mmap per call), copy-on-write memory images (a guest's initial
//! memory is mapped, not copied) and epoch interruption (a ticker thread
//! advances the epoch; a store whose deadline passes is stopped). The pool
//! reserves address space for all its slots at once; where that space is not
//! there (a small `ulimit -v`, some containers) the engine falls back to
//! on-demand allocation, slower but equally safe.

use super::limits::Limits;
use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of deadlines and of
/// cancellation. Each tick costs a store one callback; 5 ms is invisible
/// next to a deadline and cheap for the host.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Core instances a component may contain. A Rust component built by
/// wasm-component-ld has three or four; other toolchains add shims.
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 32;

/// The guard region after each memory in the fallback configuration: small,
/// because with a small reservation the compiled code checks bounds anyway.
const FALLBACK_GUARD: u64 = 64 << 10;

/// How the engine allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Preallocated, reused slots.
    Pooling,
    /// Fresh mappings per instance (the fallback).
    OnDemand,
}

/// Builds the engine, pooling if the address space allows it.
pub(crate) fn build(limits: &Limits) -> wasmtime::Result<(Engine, Allocation)> {
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(limits)));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, Allocation::Pooling)),
        Err(error) => {
            tracing::warn!("pooling allocator unavailable ({error:#}); falling back to on-demand allocation");
            let mut config = base_config();
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            // Where the pool did not fit, 4 GiB reservations per memory may
            // not either: reserve only what the cap allows and bounds-check.
            config.memory_reservation(limits.memory as u64);
            config.memory_guard_size(FALLBACK_GUARD);
            Ok((Engine::new(&config)?, Allocation::OnDemand))
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.memory_init_cow(true);
    config
}

/// The pool: enough slots for every concurrent call (and the spare ones a
/// call's teardown holds briefly), each memory slot as large as the cap.
/// Keeping the first pages of memories, tables and stacks resident between
/// calls, and finding dirty pages with the kernel's pagemap scan where it is
/// offered, is what brings a call from ~45 us to ~15 us (without the scan,
/// ~45 us; without keeping anything resident, ~55 us for a small read).
/// Memories keep up to 16 MiB: a JavaScript tool's heap grows that far past
/// its initial image, and pages kept need no fault at the next call (113
/// faults a call become 37, 610 us become 450 us). A slot holds only what
/// its calls touched. (The scan stops after 32 separate runs of dirty
/// pages and drops the pages past them: a Python tool dirties ~200 pages
/// scattered over its heap, most of which fault again at the next call.)
fn pool(limits: &Limits) -> PoolingAllocationConfig {
    let slots = u32::try_from(limits.concurrency.max(1) * 2).unwrap_or(u32::MAX);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(MAX_CORE_INSTANCES_PER_COMPONENT))
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots.saturating_mul(2))
        .max_memories_per_component(2)
        .total_tables(slots.saturating_mul(8))
        .max_tables_per_component(8)
        .total_stacks(slots)
        .max_memory_size(limits.memory)
        .linear_memory_keep_resident(16 << 20)
        .table_keep_resident(64 << 10)
        .async_stack_keep_resident(64 << 10)
        .decommit_batch_size(16)
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is gone.
pub(crate) fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasmgate-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
