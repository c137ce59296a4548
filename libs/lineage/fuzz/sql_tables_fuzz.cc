// libFuzzer entry point: any bytes as SQL must give an answer, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "optimus/lineage/sql_tables.h"
#include "optimus/lineage/urn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  const auto tables = optimus::lineage::ExtractSqlTables(sql);
  for (const auto& ref : tables.sources) {
    (void)optimus::lineage::TableUrn("bq", ref, "p");
    (void)ref.ToString();
  }
  (void)optimus::lineage::RenderUrnTemplate(sql, {{"A", "x"}});
  return 0;
}
