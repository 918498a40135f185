// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! One sequence: the handles it holds, the model beside them, the step loop and the
//! final teardown.

use super::Env;
use super::check;
use super::ops::OpKind;
use super::rng::Rng;
use super::world::{Node, What, World};
use iommufd::arch::Selftest;
use iommufd::mock::MockDevice;
use iommufd::states::{DeviceState, HwQueue, IoasReady, S2Allocated, VEventQueue, VIommuAllocated};
use iommufd::{FaultQueueId, HwptId, IommuFd, RawFaultQueue};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A value the sequence holds: a crate handle, or an object it made through the
/// id-level API (which it destroys itself).
pub enum Handle {
    Ioas(IoasReady),
    S2(S2Allocated),
    Viommu(VIommuAllocated<Selftest>),
    Dev(MockDevice),
    Bound(DeviceState<Selftest, MockDevice>),
    /// Held for its lifetime only.
    Events(#[allow(dead_code)] VEventQueue<Selftest>),
    Queue(HwQueue<Selftest>),
    RawHwpt(HwptId),
    /// The fd is closed before the destroy; a refused destroy leaves it `None`.
    RawFault(Option<RawFaultQueue>, FaultQueueId),
}

impl Handle {
    pub fn ioas(&self) -> Option<&IoasReady> {
        match self {
            Handle::Ioas(i) => Some(i),
            _ => self.s2().map(S2Allocated::ioas),
        }
    }

    pub fn s2(&self) -> Option<&S2Allocated> {
        match self {
            Handle::S2(s) => Some(s),
            _ => self.viommu().map(VIommuAllocated::s2),
        }
    }

    pub fn viommu(&self) -> Option<&VIommuAllocated<Selftest>> {
        match self {
            Handle::Viommu(v) => Some(v),
            Handle::Bound(s) => Some(s.viommu()),
            _ => None,
        }
    }

    pub fn device(&self) -> Option<&MockDevice> {
        match self {
            Handle::Dev(d) => Some(d),
            Handle::Bound(s) => Some(s.device()),
            _ => None,
        }
    }
}

/// A held value and the model node it roots.
pub struct Live {
    pub name: u32,
    pub handle: Handle,
    pub node: Node,
}

/// Why a sequence failed: the kernel and the model disagree.
pub struct Failure {
    pub seed: u64,
    pub step: usize,
    pub message: String,
    pub log: Vec<String>,
}

#[derive(Default)]
pub struct Stats {
    pub steps: u64,
    pub pairs: HashSet<(OpKind, OpKind)>,
    /// Steps run per operation.
    pub ran: HashMap<OpKind, u64>,
    pub armed: u64,
    pub hit: u64,
}

pub struct Seq<'e> {
    pub env: &'e Env,
    pub fd: Arc<IommuFd>,
    pub world: World,
    pub live: Vec<Live>,
    pub rng: Rng,
    names: u32,
    /// Fail-nth count armed for this step's API call, and whether it fired.
    pub arm: Option<u32>,
    pub fired: bool,
    pub log: Vec<String>,
    seed: u64,
    step: usize,
    /// What the sequence found so far.
    found: Vec<Failure>,
    /// Objects the kernel kept although the model says they must be gone: held
    /// from then on, so the rest of the sequence is checked against what the
    /// kernel really has.
    leaked: Vec<Node>,
    /// Whether the pin check failed already (it names no object to resync).
    pinned: bool,
}

impl<'e> Seq<'e> {
    pub fn new(env: &'e Env, seed: u64) -> Self {
        Self {
            env,
            fd: crate::common::open(),
            world: World::default(),
            live: Vec::new(),
            rng: Rng::new(seed),
            names: 0,
            arm: None,
            fired: false,
            log: Vec::new(),
            seed,
            step: 0,
            found: Vec::new(),
            leaked: Vec::new(),
            pinned: false,
        }
    }

    /// Runs `len` steps, then drops everything left; returns every disagreement
    /// found, and the steps. An error the model cannot follow ends the sequence.
    pub fn run(mut self, len: usize, stats: &mut Stats) -> (Vec<Failure>, Vec<String>) {
        let mut previous = None;
        for step in 0..len {
            self.step = step;
            match self.step(stats) {
                Ok(kind) => {
                    if let Some(p) = previous {
                        stats.pairs.insert((p, kind));
                    }
                    previous = Some(kind);
                    stats.steps += 1;
                    *stats.ran.entry(kind).or_default() += 1;
                }
                Err(m) => {
                    self.discrepancy(m);
                    return (self.found, self.log);
                }
            }
        }
        self.step = len;
        if let Err(m) = self.teardown() {
            self.discrepancy(m);
        }
        // Moved out of `self` so the handles (and the fd) go after the checks.
        let found = std::mem::take(&mut self.found);
        (found, std::mem::take(&mut self.log))
    }

    /// One random operation that applies to what the sequence holds, then the
    /// checks.
    fn step(&mut self, stats: &mut Stats) -> Result<OpKind, String> {
        loop {
            let kind = OpKind::pick(&mut self.rng);
            self.arm =
                (kind.injectable() && self.rng.one_in(4)).then(|| 1 + self.rng.below(8) as u32);
            self.fired = false;
            let before = self.log.len();
            if !self.exec(kind)? {
                continue;
            }
            if let Some(n) = self.arm {
                stats.armed += 1;
                stats.hit += u64::from(self.fired);
                let fired = if self.fired { "hit" } else { "missed" };
                if let Some(line) = self.log.get_mut(before) {
                    line.push_str(&format!(" [fail-nth {n}: {fired}]"));
                }
            }
            self.arm = None;
            self.check();
            return Ok(kind);
        }
    }

    /// What keeps model objects alive: the live values, and what leaked.
    pub fn roots(&self) -> Vec<Node> {
        self.live
            .iter()
            .map(|l| l.node)
            .chain(self.leaked.iter().copied())
            .collect()
    }

    /// The kernel against the model after a step. Disagreements are recorded, then
    /// the model takes the kernel's side.
    pub fn check(&mut self) {
        self.world.update(self.roots());
        let wrong = check::scan(&self.fd, &self.world);
        if !wrong.is_empty() {
            let message = wrong
                .iter()
                .map(|w| w.to_string(&self.world))
                .collect::<Vec<_>>()
                .join("; ");
            self.discrepancy(message);
            for w in wrong {
                match w.node {
                    Some(n) if w.exists => self.leaked.push(n),
                    Some(n) => self.world.kill(n),
                    None => {
                        let n = self.world.add(Some(w.id), What::Holds(vec![]));
                        self.leaked.push(n);
                    }
                }
            }
            self.world.update(self.roots());
        }
        if !self.pinned {
            if let Some(m) = check::pins(&self.fd, &self.world, &self.env.buffer) {
                self.pinned = true;
                self.discrepancy(m);
            }
        }
    }

    /// Drops everything left in a random order, checking after each drop.
    fn teardown(&mut self) -> Result<(), String> {
        self.log.push("-- teardown --".into());
        let mut order: Vec<u32> = self.live.iter().map(|l| l.name).collect();
        self.rng.shuffle(&mut order);
        // A raw fault queue is refused while a raw HWPT reports to it: try again
        // after the rest.
        let mut stuck = 0;
        while let Some(name) = order.first().copied() {
            order.remove(0);
            let i = self.index_of(name);
            if !self.drop_at(i)? {
                order.push(name);
                stuck += 1;
                if stuck > order.len() {
                    return Err("teardown: destroys refused with nothing left to drop".into());
                }
            } else {
                stuck = 0;
            }
            self.check();
        }
        // The check after the last drop compared the kernel with a model where
        // nothing is live (but what it already reported leaked): every id the
        // sequence saw, and a few past them, is gone, and no page of the user
        // buffer is pinned.
        debug_assert!(self.live.is_empty());
        Ok(())
    }

    pub fn index_of(&self, name: u32) -> usize {
        self.live
            .iter()
            .position(|l| l.name == name)
            .expect("a live name")
    }

    /// Holds `handle`, rooting `node`; returns its name.
    pub fn hold(&mut self, handle: Handle, node: Node) -> u32 {
        self.names += 1;
        self.live.push(Live {
            name: self.names,
            handle,
            node,
        });
        self.names
    }

    /// Puts back a handle taken out for a transition, under its name.
    pub fn put_back(&mut self, name: u32, handle: Handle, node: Node) {
        self.live.push(Live { name, handle, node });
    }

    /// A random live handle matching `f`.
    pub fn pick(&mut self, f: impl Fn(&Live) -> bool) -> Option<usize> {
        let matching: Vec<usize> = (0..self.live.len()).filter(|&i| f(&self.live[i])).collect();
        if matching.is_empty() {
            None
        } else {
            Some(matching[self.rng.below(matching.len())])
        }
    }

    /// Runs `f` with this step's fail-nth armed, if any.
    pub fn call<R>(&mut self, f: impl FnOnce(&[Live], &Arc<IommuFd>) -> R) -> R {
        let (r, fired) = self.env.faults.run(self.arm, || f(&self.live, &self.fd));
        self.fired |= fired;
        r
    }

    pub fn note(&mut self, line: String) {
        self.log.push(format!("#{} {line}", self.log.len()));
    }

    /// Appends the outcome to the last log line.
    pub fn outcome<T>(&mut self, r: &iommufd::Result<T>) {
        let s = match r {
            Ok(_) => " -> ok".to_string(),
            Err(e) => format!(" -> {e}"),
        };
        if let Some(l) = self.log.last_mut() {
            l.push_str(&s);
        }
    }

    /// Without an injected fault, the call must succeed exactly when the model
    /// says it can. A disagreement is recorded and the sequence goes on, with the
    /// model following what the kernel did (so one defect does not hide the next).
    pub fn expect<T>(&mut self, what: &str, predicted: bool, r: &iommufd::Result<T>) {
        if !self.fired && predicted != r.is_ok() {
            self.discrepancy(match r {
                Ok(_) => format!("{what}: the model says it must fail, it succeeded"),
                Err(e) => format!("{what}: the model says it must succeed, it failed: {e}"),
            });
        }
    }

    /// Records a disagreement between the kernel (or the crate) and the model.
    pub fn discrepancy(&mut self, message: String) {
        self.found.push(Failure {
            seed: self.seed,
            step: self.step,
            message,
            log: self.log.clone(),
        });
    }

    // The model's counterparts of the handle accessors.

    pub fn ioas_arc(&self, l: &Live) -> Option<Node> {
        match self.world.what(l.node) {
            What::IoasArc { .. } => Some(l.node),
            _ => self.s2_arc(l).map(|s| self.world.s2_arc_ioas(s)),
        }
    }

    pub fn s2_arc(&self, l: &Live) -> Option<Node> {
        match self.world.what(l.node) {
            What::S2Arc { .. } => Some(l.node),
            _ => self.viommu_arc(l).map(|v| self.world.viommu_arc_s2(v)),
        }
    }

    pub fn viommu_arc(&self, l: &Live) -> Option<Node> {
        match self.world.what(l.node) {
            What::ViommuArc { .. } => Some(l.node),
            What::Binding { viommu, .. } => Some(*viommu),
            _ => None,
        }
    }
}
