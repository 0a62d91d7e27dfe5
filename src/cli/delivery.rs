//! `circlemail member mode EMAIL [GROUP MODE] [--pause-until DAY | --resume]`.

use anyhow::{anyhow, bail};

use crate::{
    digest::{self, Mode},
    store::{Store, groups::Group},
};

pub(super) async fn mode(
    store: &Store,
    person: i64,
    group: Option<Group>,
    mode: Option<String>,
    pause_until: Option<String>,
    resume: bool,
    now: i64,
) -> anyhow::Result<()> {
    let today = digest::day_of(now);
    match (group, mode) {
        (Some(g), Some(m)) => {
            let m = Mode::parse(&m)
                .ok_or_else(|| anyhow!("{m:?} is not a mode: every, daily, weekly or none"))?;
            if g.address.is_none() {
                bail!("{:?} has no address, so it is no list", g.name);
            }
            digest::set_mode(store, person, g.id, m, now).await?;
            println!("{:?}: {}", g.name, m.as_str());
        }
        (Some(g), None) => bail!(
            "say the mode for {:?}: every, daily, weekly or none",
            g.name
        ),
        (None, _) => {}
    }
    if let Some(day) = pause_until {
        let until = digest::parse_pause(&day, today).map_err(|e| anyhow!("{e}"))?;
        digest::set_pause(store, person, Some(until), now).await?;
        println!("list mail paused until {until}");
    } else if resume {
        digest::set_pause(store, person, None, now).await?;
        println!("list mail resumed");
    }
    for m in digest::modes_of(store, person).await? {
        let name = store
            .group(m.group_id)
            .await?
            .map(|g| g.name)
            .unwrap_or_else(|| m.group_id.to_string());
        println!("{name}\t{}", m.mode.as_str());
    }
    println!("(every other list: every post)");
    if let Some(p) = digest::pause_of(store, person)
        .await?
        .filter(|p| p.until > today)
    {
        println!("paused until {}", p.until);
    }
    Ok(())
}
