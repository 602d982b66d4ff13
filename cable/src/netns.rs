//! Two "machines" on one Linux host, without root: two network namespaces, lab-left
//! 10.99.0.1 and lab-right 10.99.0.2, with a TUN device in each. Nothing joins them but
//! this process, which reads every packet from one TUN device and writes it to the other.
//!
//! The steps, each a system call or two:
//! 1. an ordinary user first makes a **user namespace**, in which it is root (uid 0 maps
//!    to its own uid), with the right to make network namespaces and devices in it;
//! 2. for each side, it **unshares its network namespace**: the thread now has a network
//!    of its own, empty but for a `lo` that is down. It keeps a handle on it
//!    (`/proc/thread-self/ns/net`), so that commands can be started in it later;
//! 3. it makes a **TUN device** there (`/dev/net/tun`, `TUNSETIFF`), gives it the side's
//!    address on 10.99.0.0/24, and switches it and `lo` on.
//!
//! Nothing outlives the process: a namespace lives while a process or a handle refers to
//! it, and a TUN device while its file is open. When the cable ends (even by `kill -9`),
//! the kernel removes both.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::process::Command;

use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{getgid, getuid};

use crate::side::{Side, NETMASK};

/// The MTU of both TUN devices: Ethernet's, so that segments have the sizes students meet.
pub const MTU: u16 = 1500;

/// The two sides, made.
pub struct Namespaces {
    /// A handle on each side's network namespace, left first.
    pub netns: [OwnedFd; 2],
    /// Each side's TUN device, left first: what the side sends comes out here.
    pub tun: [tun::Device; 2],
    /// True when the cable made a user namespace (an ordinary user); false as root.
    pub user_namespace: bool,
}

/// Makes both sides. Call it first, while the process has one thread: a process can
/// enter a new user namespace only then.
pub fn build() -> Result<Namespaces, String> {
    let user_namespace = !getuid().is_root();
    if user_namespace {
        enter_user_namespace()?;
    }
    let left = build_side(Side::Left)?;
    let right = build_side(Side::Right)?;
    Ok(Namespaces {
        netns: [left.0, right.0],
        tun: [left.1, right.1],
        user_namespace,
    })
}

/// Becomes root of a new user namespace: uid and gid 0 inside are this user outside.
fn enter_user_namespace() -> Result<(), String> {
    let (uid, gid) = (getuid(), getgid());
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| userns_refused("make a user namespace", e))?;
    // A process in a user namespace may write its gid map only after giving up the right
    // to change its supplementary groups (setgroups), or it could drop a group that
    // denies it access.
    let maps = [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("0 {uid} 1")),
        ("/proc/self/gid_map", format!("0 {gid} 1")),
    ];
    for (path, line) in maps {
        std::fs::write(path, &line).map_err(|e| format!("cannot write {line:?} to {path}: {e}"))?;
    }
    Ok(())
}

/// Makes one side's namespace and TUN device; the calling thread stays in that namespace.
fn build_side(side: Side) -> Result<(OwnedFd, tun::Device), String> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| userns_refused("make a network namespace", e))?;
    let netns: OwnedFd = File::open("/proc/thread-self/ns/net")
        .map_err(|e| format!("cannot open /proc/thread-self/ns/net (is /proc mounted?): {e}"))?
        .into();
    quiet_ipv6();
    let mut config = tun::Configuration::default();
    config
        .tun_name(side.name())
        .address(side.address())
        .netmask(NETMASK)
        .mtu(MTU)
        .up();
    let device = tun::create(&config).map_err(|e| tun_refused(side, e))?;
    device
        .set_nonblock()
        .map_err(|e| format!("cannot make {}'s TUN device non-blocking: {e}", side.name()))?;
    loopback_up(side);
    Ok((netns, device))
}

/// Switches IPv6 off for the devices made from now on in this namespace, so that the
/// capture holds the lab's packets and not the kernel's IPv6 router solicitations. Best
/// effort: a kernel without IPv6 has nothing to switch off.
fn quiet_ipv6() {
    // /proc/sys/net/ belongs to the network namespace of the thread that opens it.
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

/// Switches on the side's `lo`, so that a program there can reach 127.0.0.1 and its own
/// 10.99.0.x. With `ip` (iproute2): the one step for which no crate is worth it.
fn loopback_up(side: Side) {
    match Command::new("ip").args(["link", "set", "lo", "up"]).status() {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("cable: `ip link set lo up` in {side} failed ({s}): 127.0.0.1 will not answer there"),
        Err(e) if e.kind() == ErrorKind::NotFound => eprintln!(
            "cable: no `ip` command (install iproute2): lo stays down in {side}, so 127.0.0.1 will not answer there"
        ),
        Err(e) => eprintln!("cable: cannot run `ip link set lo up` in {side}: {e}"),
    }
}

/// Why the kernel refused a namespace, and what to do about it (the settings read from
/// /proc/sys).
fn userns_refused(what: &str, e: Errno) -> String {
    explain_refusal(what, e, |path| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    })
}

/// [`userns_refused`], with the settings read by `read` (from a path to its value).
fn explain_refusal(what: &str, e: Errno, read: impl Fn(&str) -> Option<String>) -> String {
    let mut why = Vec::new();
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        why.push("this kernel does not let ordinary users make user namespaces (kernel.unprivileged_userns_clone = 0): `sudo sysctl kernel.unprivileged_userns_clone=1` allows them");
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        why.push("user namespaces are switched off (user.max_user_namespaces = 0): `sudo sysctl user.max_user_namespaces=15000` allows them");
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        why.push("AppArmor restricts user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, as on Ubuntu 24.04): `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0` lifts it until the next boot");
    }
    if why.is_empty() {
        why.push("a container or seccomp profile may forbid namespaces (Docker's default does): run cable on the host, or in a VM");
    }
    format!(
        "cannot {what} ({e}): {}; or run cable with sudo",
        why.join("; ")
    )
}

fn tun_refused(side: Side, e: tun::Error) -> String {
    let hint = if std::path::Path::new("/dev/net/tun").exists() {
        "is the tun module loaded (`sudo modprobe tun`)?"
    } else {
        "there is no /dev/net/tun: load the module (`sudo modprobe tun`); in a container, pass the device in (`--device /dev/net/tun`)"
    };
    format!(
        "cannot make the TUN device {} in {side}: {e}; {hint}",
        side.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(settings: &[(&str, &str)]) -> String {
        let read = |path: &str| {
            settings
                .iter()
                .find(|(p, _)| path.ends_with(p))
                .map(|(_, v)| v.to_string())
        };
        explain_refusal("make a user namespace", Errno::EPERM, read)
    }

    #[test]
    fn a_refusal_names_the_setting_and_what_to_do() {
        let e = explain(&[("unprivileged_userns_clone", "0")]);
        assert!(e.starts_with("cannot make a user namespace (EPERM"), "{e}");
        assert!(
            e.contains("sudo sysctl kernel.unprivileged_userns_clone=1"),
            "{e}"
        );
        assert!(e.ends_with("or run cable with sudo"), "{e}");
        let e = explain(&[("max_user_namespaces", "0")]);
        assert!(e.contains("user.max_user_namespaces = 0"), "{e}");
        let e = explain(&[
            ("apparmor_restrict_unprivileged_userns", "1"),
            ("max_user_namespaces", "15000"),
        ]);
        assert!(
            e.contains("AppArmor") && !e.contains("max_user_namespaces = 0"),
            "{e}"
        );
        let e = explain(&[]);
        assert!(
            e.contains("seccomp"),
            "nothing set: a container is the likely cause: {e}"
        );
    }
}
