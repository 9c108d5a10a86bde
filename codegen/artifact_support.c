/* The fixed part of every artifact's C entry code: error recording, the
 * bounds-check hook, Halide's memory allocator. codegen/artifact_writer.cc
 * embeds this file (the genrule artifact_support_inc) after defining
 *   ADC_OVERRIDE_HALIDE_ERROR  1: route halide_error to the call's context
 *                              (artifacts that link a private runtime);
 *   ADC_EXACT_ALLOCATION       1: blocks of exactly the size asked for, freed
 *                              at once (memory-checked artifacts, so that
 *                              AddressSanitizer sees every overrun);
 *                              0: a caching allocator.
 * and after runtime/artifact_abi.h; the graph's own tables and entry points
 * follow it. Compiled on its own by //codegen:artifact_support_check. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HalideRuntime.h"

#ifndef ADC_OVERRIDE_HALIDE_ERROR
#define ADC_OVERRIDE_HALIDE_ERROR 0
#endif
#ifndef ADC_EXACT_ALLOCATION
#define ADC_EXACT_ALLOCATION 0
#endif

#define ADC_EXPORT __attribute__((visibility("default")))

typedef struct {
  int has_error;
  char message[1024];
} adc_call_context;

typedef struct {
  int32_t dtype;
  int32_t rank;
  const int64_t* dims;
} adc_buffer_desc;

static void adc_record_error(void* user_context, const char* message) {
  adc_call_context* ctx = (adc_call_context*)user_context;
  if (ctx != NULL && !ctx->has_error) {
    ctx->has_error = 1;
    snprintf(ctx->message, sizeof(ctx->message), "%s", message);
  }
}

#if ADC_OVERRIDE_HALIDE_ERROR
/* Replaces the weak default of this artifact's private Halide runtime. */
void halide_error(void* user_context, const char* message) {
  adc_record_error(user_context, message);
}
#endif

/* Called by bounds-checked code (adc compile --check-bounds,
 * codegen/bounds_check.h) before an access outside its buffer. Weak: static
 * libraries of several artifacts link into one program. */
__attribute__((weak)) int adc_bounds_error(const char* buffer, int first,
                                           int last, int elements) {
  fprintf(stderr,
          "adc: out-of-bounds access in generated code: buffer %s, elements "
          "%d to %d of %d\n",
          buffer, first, last, elements);
  abort();
  return -1;
}

/* Memory-checked artifacts: every block exactly the size asked for and
 * freed at once, so AddressSanitizer sees an access past its end or after
 * its release. Otherwise a caching allocator. */
#if ADC_EXACT_ALLOCATION
/* Memory for Halide's internal buffers and the temporaries between stages,
 * in a memory-checked artifact: exactly the size asked for (so that
 * AddressSanitizer's red zones start right after it), freed at once. */
static void* adc_malloc(void* user_context, size_t size) {
  void* p = NULL;
  if (posix_memalign(&p, 128, size > 0 ? size : 1) != 0) p = NULL;
  if (p == NULL && user_context != NULL) {
    fprintf(stderr,
            "adc: out of memory allocating %zu bytes in generated "
            "code\n",
            size);
    abort();
  }
  return p;
}

static void adc_free(void* user_context, void* ptr) {
  (void)user_context;
  free(ptr);
}

/* Not measured in memory-checked artifacts. */
static int64_t adc_peak_bytes(int reset) {
  (void)reset;
  return -1;
}
#else
/* Memory for Halide's internal buffers and the temporaries between stages:
 * freed blocks are kept for reuse, so repeated runs do not map and zero
 * fresh pages for every large buffer (as PyTorch's caching allocator). A
 * module holds its peak working memory until it is unloaded. Blocks are
 * 128-byte aligned with 64 readable bytes on either side, as Halide needs. */
/* Freed blocks by size class (class c holds capacities in [2^c, 2^(c+1))),
 * up to ADC_CLASS_SLOTS per class, packed at the front of the class's row,
 * so that a lookup scans only the blocks held in two classes: with one list
 * of 256 blocks, the small CNN's per-task panels (225 a step) spent 0.4 ms
 * a step in the allocator. 64 a class: ResNet-18's step holds more than
 * 16 intermediates of one class (its 56x56 activations) at once; with 16
 * slots the rest were freed and mapped afresh every step (about 9,000 page
 * faults a step, 5-10% of its time on a 2-core Zen 4; 110 with 64). */
#define ADC_CLASSES 48
#define ADC_CLASS_SLOTS 64
typedef struct {
  void* base;
  size_t size;
} adc_block;
typedef struct {
  int count;
  adc_block blocks[ADC_CLASS_SLOTS];
} adc_class_row;
static adc_class_row adc_cache[ADC_CLASSES];
static pthread_mutex_t adc_cache_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Bytes of intermediates (Halide's buffers and the temporaries) in use, and
 * the most at once since load or the last reset; under adc_cache_mutex.
 * A block's header holds its capacity, then the size in use. */
static int64_t adc_in_use, adc_peak;

static int64_t adc_peak_bytes(int reset) {
  int64_t peak;
  pthread_mutex_lock(&adc_cache_mutex);
  peak = adc_peak;
  if (reset) adc_peak = adc_in_use;
  pthread_mutex_unlock(&adc_cache_mutex);
  return peak;
}

/* Under adc_cache_mutex. */
static void adc_count_locked(char* base, size_t need) {
  ((size_t*)base)[1] = need;
  adc_in_use += (int64_t)need;
  if (adc_in_use > adc_peak) adc_peak = adc_in_use;
}

/* floor(log2(n)) for n >= 64, capped to the last class. */
static int adc_class(size_t n) {
  int c = 63 - __builtin_clzll((unsigned long long)n);
  return c < ADC_CLASSES ? c : ADC_CLASSES - 1;
}

static void* adc_malloc(void* user_context, size_t size) {
  size_t need = size == 0 ? 64 : (size + 63) / 64 * 64, best_size = 0;
  int c, i, best_c = -1, best = -1;
  char* base = NULL;
  (void)user_context;
  pthread_mutex_lock(&adc_cache_mutex);
  /* The smallest cached block that fits, at most about twice the size. */
  for (c = adc_class(need); c < ADC_CLASSES && c <= adc_class(need) + 1; ++c) {
    const adc_class_row* row = &adc_cache[c];
    for (i = 0; i < row->count; ++i) {
      size_t s = row->blocks[i].size;
      if (s >= need && s <= 2 * need + 65536 && (best < 0 || s < best_size)) {
        best_c = c;
        best = i;
        best_size = s;
      }
    }
    if (best >= 0) break;
  }
  if (best >= 0) {
    adc_class_row* row = &adc_cache[best_c];
    base = (char*)row->blocks[best].base;
    row->blocks[best] = row->blocks[--row->count];
    adc_count_locked(base, need);
  }
  pthread_mutex_unlock(&adc_cache_mutex);
  if (base != NULL) return base + 128;
  base = (char*)aligned_alloc(128, (128 + need + 64 + 127) / 128 * 128);
  if (base == NULL && user_context != NULL) {
    /* Called from generated code, which is compiled without asserts (the
     * entry point checks every buffer) and would dereference NULL: stop
     * with a message instead. Temporaries (user_context NULL) fail the
     * run with an error. */
    fprintf(stderr,
            "adc: out of memory allocating %zu bytes in generated "
            "code\n",
            size);
    abort();
  }
  if (base == NULL) return NULL;
  *(size_t*)base = need;
  pthread_mutex_lock(&adc_cache_mutex);
  adc_count_locked(base, need);
  pthread_mutex_unlock(&adc_cache_mutex);
  return base + 128;
}

static void adc_free(void* user_context, void* ptr) {
  char *base, *evicted = NULL;
  int i, smallest = 0;
  adc_class_row* row;
  (void)user_context;
  if (ptr == NULL) return;
  base = (char*)ptr - 128;
  row = &adc_cache[adc_class(*(size_t*)base)];
  pthread_mutex_lock(&adc_cache_mutex);
  adc_in_use -= (int64_t)((size_t*)base)[1];
  if (row->count < ADC_CLASS_SLOTS) {
    row->blocks[row->count].base = base;
    row->blocks[row->count].size = *(size_t*)base;
    ++row->count;
    base = NULL;
  } else {
    /* A full class keeps its large blocks, whose fresh pages cost the most
     * to map again: this one replaces the smallest if that is smaller. */
    for (i = 1; i < ADC_CLASS_SLOTS; ++i) {
      if (row->blocks[i].size < row->blocks[smallest].size) smallest = i;
    }
    if (row->blocks[smallest].size < *(size_t*)base) {
      evicted = (char*)row->blocks[smallest].base;
      row->blocks[smallest].base = base;
      row->blocks[smallest].size = *(size_t*)base;
      base = evicted;
    }
  }
  pthread_mutex_unlock(&adc_cache_mutex);
  free(base);
}

__attribute__((destructor)) static void adc_release_cache(void) {
  int c;
  for (c = 0; c < ADC_CLASSES; ++c) {
    while (adc_cache[c].count > 0) {
      free(adc_cache[c].blocks[--adc_cache[c].count].base);
    }
  }
}
#endif

__attribute__((constructor)) static void adc_install_allocator(void) {
  halide_set_custom_malloc(adc_malloc);
  halide_set_custom_free(adc_free);
}
