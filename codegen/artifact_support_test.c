/* The caching allocator of codegen/artifact_support.c (every artifact's
 * adc_malloc/adc_free), included here so its static functions can be
 * called: freed blocks come back for requests of about their size, a class
 * keeps up to ADC_CLASS_SLOTS of them, and a full class keeps its largest.
 * Plain C with its own main: exits 1 on the first failed check. */
#include "codegen/artifact_support.c"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                                \
    }                                                                          \
  } while (0)

/* In an artifact these are Halide's runtime (not linked here): record what
 * the file's constructor installs. */
static halide_malloc_t installed_malloc;
static halide_free_t installed_free;
halide_malloc_t halide_set_custom_malloc(halide_malloc_t user_malloc) {
  installed_malloc = user_malloc;
  return NULL;
}
halide_free_t halide_set_custom_free(halide_free_t user_free) {
  installed_free = user_free;
  return NULL;
}

enum { kLive = 48, kSize = 1 << 20 };

static int Contains(void* const* list, int n, const void* p) {
  int i;
  for (i = 0; i < n; ++i) {
    if (list[i] == p) return 1;
  }
  return 0;
}

/* ResNet-18's step holds dozens of same-sized activations at once: after
 * they are freed, as many requests of that size get them all back (with 16
 * slots a class, 32 of 48 were freed to the system and mapped afresh every
 * step). */
static int ManyBlocksOfOneClassAreAllReused(void) {
  void* first[kLive];
  void* again[kLive];
  int i;
  for (i = 0; i < kLive; ++i) {
    first[i] = adc_malloc(NULL, kSize);
    CHECK(first[i] != NULL);
    CHECK(((uintptr_t)first[i] & 127) == 0);
    memset(first[i], i, kSize);
  }
  CHECK(adc_peak_bytes(0) >= (int64_t)kLive * kSize);
  for (i = 0; i < kLive; ++i) adc_free(NULL, first[i]);
  for (i = 0; i < kLive; ++i) {
    again[i] = adc_malloc(NULL, kSize);
    CHECK(Contains(first, kLive, again[i]));
    CHECK(!Contains(again, i, again[i]));
  }
  for (i = 0; i < kLive; ++i) adc_free(NULL, again[i]);
  return 0;
}

/* A block is given only to requests it fits and at most about twice
 * smaller; the smallest that fits is taken first. */
static int TheSmallestBlockThatFitsIsTaken(void) {
  void* big = adc_malloc(NULL, 3 * kSize);
  void* mid = adc_malloc(NULL, 2 * kSize);
  void *p, *q;
  CHECK(big != NULL && mid != NULL);
  adc_free(NULL, big);
  adc_free(NULL, mid);
  p = adc_malloc(NULL, 2 * kSize - 4096);
  CHECK(p == mid);
  q = adc_malloc(NULL, 3 * kSize);
  CHECK(q == big);
  adc_free(NULL, p);
  p = adc_malloc(NULL, kSize / 2); /* Four times smaller than mid: fresh. */
  CHECK(p != mid);
  adc_free(NULL, p);
  adc_free(NULL, q);
  return 0;
}

/* A full class replaces its smallest block with a larger one freed into
 * it, and frees a smaller one at once. */
static int AFullClassKeepsItsLargestBlocks(void) {
  void* blocks[ADC_CLASS_SLOTS];
  const size_t base_size = (size_t)4 << 20; /* class 22 */
  void *large, *small, *p;
  int i;
  for (i = 0; i < ADC_CLASS_SLOTS; ++i) {
    blocks[i] = adc_malloc(NULL, base_size + 4096);
    CHECK(blocks[i] != NULL);
  }
  large = adc_malloc(NULL, base_size + 8192);
  small = adc_malloc(NULL, base_size);
  for (i = 0; i < ADC_CLASS_SLOTS; ++i) adc_free(NULL, blocks[i]);
  CHECK(adc_cache[22].count == ADC_CLASS_SLOTS);
  adc_free(NULL, small);
  for (i = 0; i < ADC_CLASS_SLOTS; ++i) {
    CHECK(adc_cache[22].blocks[i].base != (char*)small - 128);
  }
  adc_free(NULL, large);
  CHECK(adc_cache[22].count == ADC_CLASS_SLOTS);
  p = adc_malloc(NULL, base_size + 8192);
  CHECK(p == large);
  adc_free(NULL, p);
  return 0;
}

int main(void) {
  CHECK(installed_malloc == adc_malloc && installed_free == adc_free);
  if (ManyBlocksOfOneClassAreAllReused() != 0) return 1;
  if (TheSmallestBlockThatFitsIsTaken() != 0) return 1;
  if (AFullClassKeepsItsLargestBlocks() != 0) return 1;
  printf("artifact_support_test: ok\n");
  return 0;
}
