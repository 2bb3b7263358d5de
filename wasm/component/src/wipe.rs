//! An allocator that wipes every block it frees or moves. Across a WIT boundary a result (the event records
//! with a password, a generated host key file) is lowered into linear memory and freed by the generated
//! post-return function after the host copied it; a boundary function cannot wipe it itself, as the
//! wasm-bindgen module does with its buffers. Wiping on free covers those and every other copy at once.

use core::alloc::{GlobalAlloc, Layout};
use std::alloc::System;

pub struct Wiping;

/// Zeroes `len` bytes at `ptr` in a way the optimiser may not drop as dead stores before a free.
unsafe fn wipe(ptr: *mut u8, len: usize) {
    ptr.write_bytes(0, len);
    core::hint::black_box(ptr);
}

unsafe impl GlobalAlloc for Wiping {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        wipe(ptr, layout.size());
        System.dealloc(ptr, layout);
    }

    /// Always a new block: growing or shrinking in place would leave no copy, but moving would leave one.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = System.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}
