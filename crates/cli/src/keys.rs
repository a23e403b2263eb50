//! `truce keygen` and reading key files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use truce_ledger::NoteSigner;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key's name: a sensor id, or a log's origin.
    #[arg(long)]
    name: String,
    /// Where to write: PREFIX.key (private), PREFIX.pub (base64 public key), PREFIX.vkey.
    #[arg(long)]
    out: PathBuf,
}

/// A fresh random key pair named `name`.
pub fn generate(name: &str) -> anyhow::Result<NoteSigner> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    NoteSigner::new(name, seed).map_err(|e| anyhow::anyhow!("bad key name {name:?}: {e}"))
}

/// The public key as registration wants it: base64 of the 32 bytes.
pub fn public_key_base64(signer: &NoteSigner) -> String {
    truce_model::envelope::encode_base64(&signer.public_key())
}

/// Writes PREFIX.key, PREFIX.pub and PREFIX.vkey.
pub fn write(signer: &NoteSigner, prefix: &Path) -> anyhow::Result<()> {
    let with = |ext: &str| PathBuf::from(format!("{}.{ext}", prefix.display()));
    let key = with("key");
    {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options
            .open(&key)
            .with_context(|| format!("cannot create {} (it must not exist)", key.display()))?;
        writeln!(file, "{}", signer.skey())?;
    }
    std::fs::write(with("pub"), format!("{}\n", public_key_base64(signer)))?;
    std::fs::write(with("vkey"), format!("{}\n", signer.vkey()))?;
    Ok(())
}

/// Reads a private key file written by `truce keygen` (C2SP note signer key text).
pub fn read(path: &Path) -> anyhow::Result<NoteSigner> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key {}", path.display()))?;
    NoteSigner::from_skey(text.trim())
        .map_err(|e| anyhow::anyhow!("{} is not a truce private key: {e}", path.display()))
}

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let signer = generate(&args.name)?;
    write(&signer, &args.out)?;
    println!("private key: {}.key (keep it secret)", args.out.display());
    println!("public key:  {}", public_key_base64(&signer));
    println!("verifier key (C2SP vkey): {}", signer.vkey());
    Ok(())
}
