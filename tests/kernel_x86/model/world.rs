// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The model: the kernel objects a sequence made, the crate handles' shared parts,
//! and what keeps what alive. An object must exist exactly while it is reachable
//! from a live handle: a handle holds its shared part, a shared part holds its
//! objects and its parent's shared part (children keep parents alive), and a kernel
//! object holds what the kernel makes it reference (whatever is attached to an
//! object keeps it alive).

use std::collections::BTreeMap;

/// A node of the model (an index into [`World::nodes`]).
pub type Node = usize;

/// The IOAS slots a sequence maps: fixed IOVAs, one mapping each, so an unmap
/// names exactly one mapping and never straddles two.
pub const SLOTS: usize = 4;

/// What backs a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// `map_file` of the test's memfd.
    File,
    /// `map_user` of the test's buffer (its pages are pinned while mapped).
    User,
}

#[derive(Debug)]
pub enum What {
    // Kernel objects (they have an id).
    Ioas {
        maps: [Option<Backing>; SLOTS],
    },
    /// A paging HWPT on an IOAS (stage 2, or a device's automatic domain) or a
    /// nested one on a vIOMMU (a default, a device's stage 1, or one made raw).
    Hwpt {
        parent: Node,
        fault: Option<Node>,
    },
    Viommu {
        s2: Node,
    },
    Vdevice {
        viommu: Node,
        virt_id: u64,
    },
    RawVEventQueue {
        viommu: Node,
    },
    HwQueue {
        viommu: Node,
        index: u32,
        /// The kernel keeps queue n busy while queue n + 1 exists.
        prev: Option<Node>,
        /// The kernel's own access object, pinning the queue's page.
        access: Node,
        /// The IOAS mapping the queue pins (unmapping it is refused).
        pin: (Node, usize),
    },
    /// The access object the kernel makes for a HW queue (it never shows its id).
    Access {
        ioas: Node,
    },
    FaultQueue,
    /// A mock device's iommufd device object (its dev_id).
    Idev,
    /// A mock device's selftest object, and what the device is attached to.
    Stdev {
        idev: Node,
        attached: Node,
    },
    // The crate handles' shared parts (no id): clones share one.
    IoasArc {
        ioas: Node,
    },
    S2Arc {
        s2: Node,
        ioas: Node,
    },
    ViommuArc {
        viommu: Node,
        bypass: Option<Node>,
        s2: Node,
    },
    Binding {
        dev: Node,
        vdevice: Node,
        stage1: Option<Node>,
        viommu: Node,
    },
    /// A HW queue handle: the queue, the previous queue's handle (the chain keeps
    /// it alive) and the vIOMMU.
    QueueArc {
        queue: Node,
        prev: Option<Node>,
        viommu: Node,
    },
    /// Any other handle: what it holds.
    Holds(Vec<Node>),
}

impl What {
    fn holds(&self) -> Vec<Node> {
        match self {
            What::Ioas { .. } | What::FaultQueue | What::Idev => vec![],
            What::Hwpt { parent, fault } => [Some(*parent), *fault].into_iter().flatten().collect(),
            What::Viommu { s2 } => vec![*s2],
            What::Vdevice { viommu, .. } | What::RawVEventQueue { viommu } => vec![*viommu],
            What::HwQueue {
                viommu,
                prev,
                access,
                ..
            } => [Some(*viommu), *prev, Some(*access)]
                .into_iter()
                .flatten()
                .collect(),
            What::Access { ioas } => vec![*ioas],
            What::Stdev { idev, attached } => vec![*idev, *attached],
            What::IoasArc { ioas } => vec![*ioas],
            What::S2Arc { s2, ioas } => vec![*s2, *ioas],
            What::ViommuArc { viommu, bypass, s2 } => [Some(*viommu), *bypass, Some(*s2)]
                .into_iter()
                .flatten()
                .collect(),
            What::Binding {
                dev,
                vdevice,
                stage1,
                viommu,
            } => [Some(*dev), Some(*vdevice), *stage1, Some(*viommu)]
                .into_iter()
                .flatten()
                .collect(),
            What::QueueArc {
                queue,
                prev,
                viommu,
            } => [Some(*queue), *prev, Some(*viommu)]
                .into_iter()
                .flatten()
                .collect(),
            What::Holds(nodes) => nodes.clone(),
        }
    }
}

#[derive(Debug)]
pub struct Entry {
    /// The kernel id, for kernel objects.
    pub id: Option<u32>,
    pub what: What,
}

#[derive(Debug, Default)]
pub struct World {
    pub nodes: Vec<Entry>,
    /// Which nodes are reachable from the live handles (after [`update`](Self::update)).
    pub alive: Vec<bool>,
    /// Objects the kernel destroyed although the model says they must exist: gone
    /// whatever holds them, from then on.
    killed: Vec<Node>,
}

impl World {
    pub fn add(&mut self, id: Option<u32>, what: What) -> Node {
        self.nodes.push(Entry { id, what });
        // A node is added for something just made: alive until the next update.
        self.alive.push(true);
        self.nodes.len() - 1
    }

    pub fn what(&self, node: Node) -> &What {
        &self.nodes[node].what
    }

    pub fn what_mut(&mut self, node: Node) -> &mut What {
        &mut self.nodes[node].what
    }

    pub fn id(&self, node: Node) -> u32 {
        self.nodes[node].id.expect("a kernel object")
    }

    /// Which nodes `roots` reach.
    pub fn reach(&self, roots: impl IntoIterator<Item = Node>) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        for &n in &self.killed {
            seen[n] = true;
        }
        let mut todo: Vec<Node> = roots.into_iter().collect();
        while let Some(n) = todo.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                todo.extend(self.nodes[n].what.holds());
            }
        }
        for &n in &self.killed {
            seen[n] = false;
        }
        seen
    }

    pub fn kill(&mut self, node: Node) {
        self.killed.push(node);
    }

    pub fn update(&mut self, roots: impl IntoIterator<Item = Node>) {
        self.alive = self.reach(roots);
    }

    /// The live kernel objects by id. Two live objects with one id would be a bug
    /// of the model itself.
    pub fn live_ids(&self) -> BTreeMap<u32, Node> {
        let mut ids = BTreeMap::new();
        for (n, e) in self.nodes.iter().enumerate() {
            if let (Some(id), true) = (e.id, self.alive[n]) {
                let other = ids.insert(id, n);
                assert!(other.is_none(), "model bug: two live objects with id {id}");
            }
        }
        ids
    }

    /// The largest id the sequence ever saw.
    pub fn max_id(&self) -> u32 {
        self.nodes.iter().filter_map(|e| e.id).max().unwrap_or(0)
    }

    /// The live objects matching `f`.
    pub fn live<'a>(&'a self, f: impl Fn(&What) -> bool + 'a) -> impl Iterator<Item = Node> + 'a {
        (0..self.nodes.len()).filter(move |&n| self.alive[n] && f(&self.nodes[n].what))
    }

    /// The id the kernel gives the next object: the lowest free one (ids come from
    /// an allocating xarray starting at 1), not counting `taken`.
    pub fn next_free_id(&self, taken: u32) -> u32 {
        let live = self.live_ids();
        (1..)
            .find(|id| *id != taken && !live.contains_key(id))
            .expect("some id is free")
    }

    // Walking from a handle's shared part to its ancestors'.

    pub fn viommu_arc_s2(&self, viommu_arc: Node) -> Node {
        match self.what(viommu_arc) {
            What::ViommuArc { s2, .. } => *s2,
            w => panic!("model bug: not a vIOMMU handle: {w:?}"),
        }
    }

    pub fn s2_arc_ioas(&self, s2_arc: Node) -> Node {
        match self.what(s2_arc) {
            What::S2Arc { ioas, .. } => *ioas,
            w => panic!("model bug: not a stage-2 handle: {w:?}"),
        }
    }

    /// The kernel object a handle's shared part stands for (IOAS, HWPT, vIOMMU).
    pub fn object_of(&self, arc: Node) -> Node {
        match self.what(arc) {
            What::IoasArc { ioas } => *ioas,
            What::S2Arc { s2, .. } => *s2,
            What::ViommuArc { viommu, .. } => *viommu,
            w => panic!("model bug: no single object: {w:?}"),
        }
    }
}
