//! The `valid_policy_tree` of RFC 5280 §6.1 (certificate policies, policy mappings).
//!
//! Internal to the validator. Nodes live in levels (depth 0 = the root, anyPolicy);
//! each node points to its parent in the level above.

use const_oid::ObjectIdentifier;

use crate::oids::ANY_POLICY;

#[derive(Debug, Clone)]
struct Node {
    policy: ObjectIdentifier,
    expected: Vec<ObjectIdentifier>,
    parent: usize,
    alive: bool,
}

/// The tree; `None` levels mean the NULL tree.
#[derive(Debug, Clone)]
pub(crate) struct PolicyTree {
    levels: Vec<Vec<Node>>,
    null: bool,
}

impl PolicyTree {
    pub(crate) fn new() -> Self {
        PolicyTree {
            levels: vec![vec![Node {
                policy: ANY_POLICY,
                expected: vec![ANY_POLICY],
                parent: 0,
                alive: true,
            }]],
            null: false,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        self.null
    }

    pub(crate) fn set_null(&mut self) {
        self.null = true;
    }

    fn depth(&self) -> usize {
        self.levels.len() - 1
    }

    /// §6.1.3 (d): process the policies of certificate `i` (the new depth).
    /// `any_allowed`: anyPolicy in the certificate may be used (inhibit_any_policy > 0,
    /// or a self-issued intermediate).
    pub(crate) fn process_certificate(
        &mut self,
        policies: &[ObjectIdentifier],
        any_allowed: bool,
        budget: &mut usize,
    ) {
        if self.null {
            return;
        }
        let prev = self.depth();
        let mut level: Vec<Node> = Vec::new();
        for p in policies.iter().filter(|p| **p != ANY_POLICY) {
            let mut matched = false;
            for (idx, n) in self.levels[prev].iter().enumerate() {
                *budget += 1;
                if n.alive && n.expected.contains(p) {
                    level.push(Node {
                        policy: *p,
                        expected: vec![*p],
                        parent: idx,
                        alive: true,
                    });
                    matched = true;
                }
            }
            if !matched
                && let Some(idx) = self.levels[prev]
                    .iter()
                    .position(|n| n.alive && n.policy == ANY_POLICY)
            {
                level.push(Node {
                    policy: *p,
                    expected: vec![*p],
                    parent: idx,
                    alive: true,
                });
            }
        }
        if any_allowed && policies.contains(&ANY_POLICY) {
            for (idx, n) in self.levels[prev].iter().enumerate() {
                if !n.alive {
                    continue;
                }
                for e in &n.expected {
                    *budget += 1;
                    if !level.iter().any(|c| c.parent == idx && c.policy == *e) {
                        level.push(Node {
                            policy: *e,
                            expected: vec![*e],
                            parent: idx,
                            alive: true,
                        });
                    }
                }
            }
        }
        self.levels.push(level);
        self.prune();
    }

    /// Remove childless nodes above the deepest level; the NULL tree when the root goes.
    fn prune(&mut self) {
        if self.null {
            return;
        }
        let d = self.depth();
        // Dead parents kill their children.
        for l in 1..=d {
            let (upper, lower) = self.levels.split_at_mut(l);
            let parents = &upper[l - 1];
            for n in lower[0].iter_mut() {
                if !parents.get(n.parent).is_some_and(|p| p.alive) {
                    n.alive = false;
                }
            }
        }
        for l in (0..d).rev() {
            let (upper, lower) = self.levels.split_at_mut(l + 1);
            let children = &lower[0];
            for (idx, n) in upper[l].iter_mut().enumerate() {
                if n.alive && !children.iter().any(|c| c.alive && c.parent == idx) {
                    n.alive = false;
                }
            }
        }
        if !self.levels[0][0].alive {
            self.null = true;
        }
    }

    /// §6.1.4 (b): apply the policy mappings of certificate `i` (the current depth).
    pub(crate) fn apply_mappings(
        &mut self,
        mappings: &[(ObjectIdentifier, ObjectIdentifier)],
        mapping_allowed: bool,
    ) {
        if self.null {
            return;
        }
        let d = self.depth();
        let mut issuers: Vec<ObjectIdentifier> = mappings.iter().map(|m| m.0).collect();
        issuers.sort();
        issuers.dedup();
        for idp in issuers {
            let subjects: Vec<ObjectIdentifier> = mappings
                .iter()
                .filter(|m| m.0 == idp)
                .map(|m| m.1)
                .collect();
            if mapping_allowed {
                let mut found = false;
                for n in self.levels[d].iter_mut() {
                    if n.alive && n.policy == idp {
                        n.expected = subjects.clone();
                        found = true;
                    }
                }
                if !found
                    && let Some(any) = self.levels[d]
                        .iter()
                        .find(|n| n.alive && n.policy == ANY_POLICY)
                        .cloned()
                {
                    self.levels[d].push(Node {
                        policy: idp,
                        expected: subjects,
                        parent: any.parent,
                        alive: true,
                    });
                }
            } else {
                for n in self.levels[d].iter_mut() {
                    if n.policy == idp {
                        n.alive = false;
                    }
                }
            }
        }
        self.prune();
    }

    /// §6.1.5 (g): intersect with the user's initial policy set (`None` = anyPolicy).
    /// Returns the authorities-constrained ∩ user-constrained policy set.
    pub(crate) fn intersect(&mut self, user: Option<&[ObjectIdentifier]>) {
        if self.null {
            return;
        }
        let Some(user) = user else {
            return;
        };
        let d = self.depth();
        // The valid_policy_node_set: nodes whose parent is anyPolicy.
        let mut in_set: Vec<ObjectIdentifier> = Vec::new();
        for l in 1..=d {
            let (upper, lower) = self.levels.split_at_mut(l);
            let parents = &upper[l - 1];
            for n in lower[0].iter_mut() {
                if !n.alive || parents[n.parent].policy != ANY_POLICY || !parents[n.parent].alive {
                    continue;
                }
                if n.policy != ANY_POLICY && !user.contains(&n.policy) {
                    n.alive = false;
                } else {
                    in_set.push(n.policy);
                }
            }
        }
        if let Some(any_idx) = self.levels[d]
            .iter()
            .position(|n| n.alive && n.policy == ANY_POLICY)
        {
            let parent = self.levels[d][any_idx].parent;
            for p in user {
                if !in_set.contains(p) {
                    self.levels[d].push(Node {
                        policy: *p,
                        expected: vec![*p],
                        parent,
                        alive: true,
                    });
                }
            }
            self.levels[d][any_idx].alive = false;
        }
        self.prune();
    }

    /// The valid policies at the deepest level (anyPolicy included when present).
    pub(crate) fn leaf_policies(&self) -> Vec<ObjectIdentifier> {
        if self.null {
            return Vec::new();
        }
        let mut v: Vec<ObjectIdentifier> = self.levels[self.depth()]
            .iter()
            .filter(|n| n.alive)
            .map(|n| n.policy)
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
