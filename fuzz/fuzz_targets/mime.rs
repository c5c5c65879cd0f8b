#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mss_fuzz::targets::mime_parse(data));
