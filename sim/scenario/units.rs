//! Human units in scenario files: sizes ("512MiB", "300MB"), cpu ("0.5", "500m", "2vcpu") and rates ("200/s").

/// Largest size accepted, in bytes (1 PiB): far above any node, small enough that sums cannot overflow.
pub const MAX_BYTES: u64 = 1 << 50;

/// Largest cpu amount accepted, in millicores (one million vCPUs).
pub const MAX_CPU_MILLIS: u64 = 1_000_000_000;

/// Parses a size: `"512MiB"`, `"1.5GiB"`, `"300MB"`, `"64KiB"`, `"1024B"`; returns bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    const UNITS: [(&str, f64); 11] = [
        ("B", 1.0),
        ("KB", 1e3),
        ("MB", 1e6),
        ("GB", 1e9),
        ("TB", 1e12),
        ("KiB", 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("K", 1e3),
        ("Ki", 1024.0),
    ];
    let (number, unit) = split_number(text);
    let scale = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
        .ok_or_else(|| {
            format!(
                "`{}` is not a size; write a number and a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB (e.g. \"512MiB\", \"300MB\")",
                text.trim()
            )
        })?;
    let value = parse_non_negative(number, text)?;
    let bytes = (value * scale).round();
    if bytes > MAX_BYTES as f64 {
        return Err(format!(
            "`{}` is too large; sizes go up to 1PiB",
            text.trim()
        ));
    }
    Ok(bytes as u64)
}

/// Parses a cpu amount in millicores: `"500m"`, `"0.5"`, `"2vcpu"`, `"1 vCPU"`.
pub fn parse_cpu_millis(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text);
    let scale = match unit.to_ascii_lowercase().as_str() {
        "m" => 1.0,
        "" | "vcpu" | "cpu" | "cores" | "core" => 1000.0,
        _ => {
            return Err(format!(
                "`{}` is not a cpu amount; write vCPUs as a number (0.5) or millicores (\"500m\")",
                text.trim()
            ));
        }
    };
    let value = parse_non_negative(number, text)?;
    cpu_millis_from_vcpus(value * scale / 1000.0).map_err(|_| {
        format!(
            "`{}` is too large; cpu amounts go up to {} vCPUs",
            text.trim(),
            MAX_CPU_MILLIS / 1000
        )
    })
}

/// Converts a number of vCPUs (e.g. `0.5`) to millicores, rejecting negative, non-finite and huge values.
pub fn cpu_millis_from_vcpus(vcpus: f64) -> Result<u64, String> {
    // Very large numbers print in scientific notation rather than as hundreds of digits.
    let shown = if vcpus.abs() < 1e15 {
        vcpus.to_string()
    } else {
        format!("{vcpus:e}")
    };
    if !(vcpus.is_finite() && vcpus >= 0.0) {
        return Err(format!("cpu {shown} must be zero or positive"));
    }
    let millis = (vcpus * 1000.0).round();
    if millis > MAX_CPU_MILLIS as f64 {
        return Err(format!(
            "cpu {shown} is too large; cpu amounts go up to {} vCPUs",
            MAX_CPU_MILLIS / 1000
        ));
    }
    Ok(millis as u64)
}

/// Parses a bandwidth into bytes per second: `"100MB/s"`, `"50MiB/s"`, `"1GB/min"`.
pub fn parse_bandwidth(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let help = || {
        format!("`{trimmed}` is not a bandwidth; write size/unit, e.g. \"100MB/s\" or \"50MiB/s\"")
    };
    let (size, per) = trimmed.split_once('/').ok_or_else(help)?;
    let bytes = parse_bytes(size).map_err(|_| help())? as f64;
    let seconds = match per.trim() {
        "ms" => 1e-3,
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(help()),
    };
    Ok(bytes / seconds)
}

/// Parses a rate into events per second: `"200/s"`, `"12000/min"`, `"1.5/ms"`, `"3600/h"`.
pub fn parse_rate_per_sec(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let help = || {
        format!(
            "`{trimmed}` is not a rate; write count/unit with unit ms, s, min or h (e.g. \"200/s\")"
        )
    };
    let (number, unit) = trimmed.split_once('/').ok_or_else(help)?;
    let per_second = match unit.trim() {
        "ms" => 1000.0,
        "s" | "sec" => 1.0,
        "m" | "min" => 1.0 / 60.0,
        "h" => 1.0 / 3600.0,
        _ => return Err(help()),
    };
    let value: f64 = number.trim().replace('_', "").parse().map_err(|_| help())?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{trimmed}`: a rate must be zero or positive"));
    }
    Ok(value * per_second)
}

fn split_number(text: &str) -> (&str, &str) {
    let trimmed = text.trim();
    let split_at = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == '-'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split_at);
    (number, unit.trim())
}

fn parse_non_negative(number: &str, original: &str) -> Result<f64, String> {
    let value: f64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{}` does not start with a number", original.trim()))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{}` must be zero or positive", original.trim()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_bytes("300MB"), Ok(300_000_000));
        assert_eq!(parse_bytes("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_bytes("0B"), Ok(0));
        assert!(parse_bytes("512").is_err());
        assert!(parse_bytes("512 parsecs").is_err());
        assert!(parse_bytes("-1MiB").is_err());
        assert!(parse_bytes("99999999999999999999TiB").is_err());
        assert_eq!(parse_bytes("1024TiB"), Ok(MAX_BYTES));
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpu_millis("500m"), Ok(500));
        assert_eq!(parse_cpu_millis("0.25"), Ok(250));
        assert_eq!(parse_cpu_millis("2vcpu"), Ok(2000));
        assert_eq!(parse_cpu_millis("1 vCPU"), Ok(1000));
        assert!(parse_cpu_millis("lots").is_err());
        assert!(parse_cpu_millis("1e300").is_err());
        assert!(parse_cpu_millis("2000000vcpu").is_err());
        assert_eq!(cpu_millis_from_vcpus(0.5), Ok(500));
        assert!(cpu_millis_from_vcpus(-1.0).is_err());
        assert!(cpu_millis_from_vcpus(f64::INFINITY).is_err());
        assert!(cpu_millis_from_vcpus(1e300).is_err());
    }

    #[test]
    fn bandwidths() {
        assert_eq!(parse_bandwidth("100MB/s"), Ok(100e6));
        assert_eq!(parse_bandwidth("60MB/min"), Ok(1e6));
        assert!(parse_bandwidth("100MB").is_err());
        assert!(parse_bandwidth("fast/s").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate_per_sec("200/s"), Ok(200.0));
        assert_eq!(parse_rate_per_sec("12000/min"), Ok(200.0));
        assert_eq!(parse_rate_per_sec("1.5/ms"), Ok(1500.0));
        assert!(parse_rate_per_sec("200").is_err());
        assert!(parse_rate_per_sec("200/fortnight").is_err());
        assert!(parse_rate_per_sec("-3/s").is_err());
    }
}
