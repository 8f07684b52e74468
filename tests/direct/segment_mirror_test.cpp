// Guest segment caches -> host LDT descriptors: slot numbering, flag encoding for modify_ldt
// (Linux asm/ldt.h), and VMware-style truncation at the user/supervisor split.
#include <catch2/catch.hpp>

#include "runtime/direct/segment_mirror.h"

using namespace btvmm;
using namespace btvmm::direct;

TEST_CASE("mirror_gdt_and_ldt_selectors_get_distinct_host_ldt_slots") {
  CHECK(host_slot(0x7b) == 15);
  CHECK(host_slot(0x7f) == kGuestLdtSlotBase + 15);
  CHECK(host_selector(15) == 0x7f);
  CHECK(host_selector(kGuestLdtSlotBase) == ((kGuestLdtSlotBase << 3) | 7));
}

TEST_CASE("mirror_flat_data_segment_is_page_granular_writable_32bit") {
  const runtime::SegmentCache ds{0x7b, 0xc0f3, 0, 0xffffffff};
  const btvmm_user_desc d = mirror_descriptor(ds, 15, 0);
  CHECK(d.entry_number == 15);
  CHECK(d.base_addr == 0);
  CHECK(d.limit == 0xfffff);
  CHECK(d.flags == (1u | (1u << 4)));  // seg_32bit, limit_in_pages; contents 0; writable
}

TEST_CASE("mirror_truncates_user_data_segments_at_the_split_but_not_code") {
  const runtime::SegmentCache ds{0x7b, 0xc0f3, 0, 0xffffffff};
  const btvmm_user_desc d = mirror_descriptor(ds, 15, 0xC0000000);
  CHECK(d.limit == 0xBFFFF);
  const runtime::SegmentCache tls{0x33, 0xc0f3, 0xBFFFF000, 0xffffffff};
  CHECK(mirror_descriptor(tls, 6, 0xC0000000).limit == 0xFFF);  // byte granular: 4 KiB left
  const runtime::SegmentCache cs{0x73, 0xc0fb, 0, 0xffffffff};
  const btvmm_user_desc c = mirror_descriptor(cs, 14, 0xC0000000);
  CHECK(c.limit == 0xfffff);
  CHECK(((c.flags >> 1) & 3) == 2);  // contents: code
}

TEST_CASE("mirror_read_only_data_and_execute_only_code_set_read_exec_only") {
  CHECK(mirror_descriptor({0x7b, 0xc0f1, 0, 0xffff}, 1, 0).flags & (1u << 3));
  CHECK(mirror_descriptor({0x73, 0xc0f9, 0, 0xffff}, 1, 0).flags & (1u << 3));
  CHECK_FALSE(mirror_descriptor({0x73, 0xc0fb, 0, 0xffff}, 1, 0).flags & (1u << 3));
}

TEST_CASE("mirror_plan_nulls_unusable_data_segments_and_maps_the_rest") {
  runtime::VcpuState v;
  v.seg[runtime::kCs] = {0x73, 0xc0fb, 0, 0xffffffff};
  v.seg[runtime::kSs] = {0x7b, 0xc0f3, 0, 0xffffffff};
  v.seg[runtime::kDs] = {0x7b, 0xc0f3, 0, 0xffffffff};
  v.seg[runtime::kEs] = {0, 0x10000, 0, 0};
  v.seg[runtime::kFs] = {0x3, 0x10000, 0, 0};
  v.seg[runtime::kGs] = {0x33, 0xc0f3, 0x1000, 0xfffff};
  const MirrorPlan p = plan_mirror(v, 0);
  CHECK(p.host[runtime::kCs] == 0x77);
  CHECK(p.host[runtime::kSs] == 0x7f);
  CHECK(p.host[runtime::kDs] == 0x7f);
  CHECK(p.host[runtime::kEs] == 0);
  CHECK(p.host[runtime::kFs] == 0);
  CHECK(p.host[runtime::kGs] == 0x37);
  CHECK_FALSE(p.desc[runtime::kEs].has_value());
  REQUIRE(p.desc[runtime::kGs].has_value());
  CHECK(p.desc[runtime::kGs]->base_addr == 0x1000);
}
