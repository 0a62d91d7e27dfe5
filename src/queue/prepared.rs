//! What every batch of one post needs, made once per post: the post loaded, its list copy
//! split for personal copies and the body hashed for each DKIM key, or (one copy for all) the
//! copy signed. A 10,000-member post is 100 batches; they share this instead of each loading,
//! splitting and hashing the post again. The last few posts are kept, one per worker: batches
//! of one post are claimed one after another.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use crate::{
    model::message::CopyBytes,
    rewrite::Personaliser,
    signing::{PreparedPost, Signers},
    store::posts::StoredPost,
    unsubscribe::Links,
};

/// A post ready to be sent in batches.
pub(super) struct Prepared {
    /// The stored post (its list copy moved into `content`).
    pub post: StoredPost,
    pub content: Content,
}

pub(super) enum Content {
    /// One copy per recipient, each with its own fields and signature.
    Personal(Arc<PreparedPost>),
    /// One signed copy for every recipient.
    Shared(CopyBytes),
}

impl Prepared {
    /// Splits or signs `post`'s list copy with the keys of its list domain (the domain of our
    /// envelope sender), on the blocking pool.
    pub(super) async fn make(
        mut post: StoredPost,
        signers: &Signers,
        links: Option<&Links>,
    ) -> Result<Prepared, String> {
        let domain = post
            .envelope_from
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let list_copy = std::mem::take(&mut post.list_copy);
        let content = if post.personal != 0 {
            let copy = Personaliser::new(
                &list_copy,
                post.personal,
                links,
                post.group_id,
                post.list_address.as_deref(),
            );
            let signers = signers.clone();
            let prepared = tokio::task::spawn_blocking(move || signers.prepare(&domain, copy))
                .await
                .map_err(|e| format!("preparing the post failed: {e}"))?;
            Content::Personal(Arc::new(prepared))
        } else {
            Content::Shared(signers.sign_async(domain, list_copy.into()).await)
        };
        Ok(Prepared { post, content })
    }
}

/// The last few prepared posts, by post id.
pub(super) struct PreparedPosts {
    kept: Mutex<VecDeque<(i64, Arc<Prepared>)>>,
    capacity: usize,
}

impl PreparedPosts {
    pub(super) fn new(capacity: usize) -> PreparedPosts {
        PreparedPosts {
            kept: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity: capacity.max(1),
        }
    }

    pub(super) fn get(&self, post_id: i64) -> Option<Arc<Prepared>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .find(|(id, _)| *id == post_id)
            .map(|(_, p)| p.clone())
    }

    pub(super) fn keep(&self, post_id: i64, prepared: Arc<Prepared>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.iter().any(|(id, _)| *id == post_id) {
            return;
        }
        if kept.len() >= self.capacity {
            kept.pop_front();
        }
        kept.push_back((post_id, prepared));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(id: i64) -> Arc<Prepared> {
        Arc::new(Prepared {
            post: StoredPost {
                id,
                group_id: 1,
                personal: 0,
                queue_id: format!("Q{id}"),
                envelope_from: "l-bounces@lists.test".into(),
                received_at: 0,
                list_copy: Vec::new(),
                list_address: None,
            },
            content: Content::Shared(CopyBytes::whole(b"x".as_slice())),
        })
    }

    #[test]
    fn the_last_posts_are_kept_and_the_oldest_goes_first() {
        let kept = PreparedPosts::new(2);
        for id in 1..=3 {
            kept.keep(id, prepared(id));
        }
        assert!(kept.get(1).is_none());
        assert_eq!(kept.get(3).map(|p| p.post.id), Some(3));
        assert_eq!(
            kept.get(2).map(|p| p.post.queue_id.clone()).as_deref(),
            Some("Q2")
        );
    }
}
