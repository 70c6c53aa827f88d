//! Empty library target: it lets rethfs-user name this crate as a build dependency, so cargo
//! rebuilds the programs when their sources change. The programs are the `rethfs` binary.
#![no_std]
