/* test-dtype.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <safetensors-glib/safetensors-glib.h>

static const struct {
  const char *name;
  SafetensorsDType dtype;
  guint bits;
} expected_dtypes[] = {
  { "BOOL", SAFETENSORS_DTYPE_BOOL, 8 },
  { "F4", SAFETENSORS_DTYPE_F4, 4 },
  { "F6_E2M3", SAFETENSORS_DTYPE_F6_E2M3, 6 },
  { "F6_E3M2", SAFETENSORS_DTYPE_F6_E3M2, 6 },
  { "U8", SAFETENSORS_DTYPE_U8, 8 },
  { "I8", SAFETENSORS_DTYPE_I8, 8 },
  { "F8_E5M2", SAFETENSORS_DTYPE_F8_E5M2, 8 },
  { "F8_E4M3", SAFETENSORS_DTYPE_F8_E4M3, 8 },
  { "F8_E8M0", SAFETENSORS_DTYPE_F8_E8M0, 8 },
  { "F8_E4M3FNUZ", SAFETENSORS_DTYPE_F8_E4M3FNUZ, 8 },
  { "F8_E5M2FNUZ", SAFETENSORS_DTYPE_F8_E5M2FNUZ, 8 },
  { "I16", SAFETENSORS_DTYPE_I16, 16 },
  { "U16", SAFETENSORS_DTYPE_U16, 16 },
  { "F16", SAFETENSORS_DTYPE_F16, 16 },
  { "BF16", SAFETENSORS_DTYPE_BF16, 16 },
  { "I32", SAFETENSORS_DTYPE_I32, 32 },
  { "U32", SAFETENSORS_DTYPE_U32, 32 },
  { "F32", SAFETENSORS_DTYPE_F32, 32 },
  { "C64", SAFETENSORS_DTYPE_C64, 64 },
  { "F64", SAFETENSORS_DTYPE_F64, 64 },
  { "I64", SAFETENSORS_DTYPE_I64, 64 },
  { "U64", SAFETENSORS_DTYPE_U64, 64 },
};

static void
test_dtype_table (void)
{
  g_assert_cmpuint (G_N_ELEMENTS (expected_dtypes), ==, SAFETENSORS_DTYPE_COUNT);

  for (guint i = 0; i < G_N_ELEMENTS (expected_dtypes); i++)
    {
      SafetensorsDType parsed = SAFETENSORS_DTYPE_U64;

      /* The enum follows the reference's order. */
      g_assert_cmpint (expected_dtypes[i].dtype, ==, i);
      g_assert_cmpstr (safetensors_dtype_to_string (expected_dtypes[i].dtype), ==,
                       expected_dtypes[i].name);
      g_assert_cmpuint (safetensors_dtype_get_bits (expected_dtypes[i].dtype), ==,
                        expected_dtypes[i].bits);
      g_assert_true (safetensors_dtype_from_string (expected_dtypes[i].name, &parsed));
      g_assert_cmpint (parsed, ==, expected_dtypes[i].dtype);
    }
}

static void
test_dtype_case_sensitive (void)
{
  const char *invalid[] = { "f32", "F32 ", " F32", "Bool", "bf16", "", "F8_E4M3FN", "F8" };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    g_assert_false (safetensors_dtype_from_string (invalid[i], NULL));
}

static void
test_dtype_gtype (void)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (SAFETENSORS_TYPE_DTYPE);
  GEnumValue *value = g_enum_get_value (klass, SAFETENSORS_DTYPE_F8_E4M3FNUZ);

  g_assert_nonnull (value);
  g_assert_cmpstr (value->value_nick, ==, "f8-e4m3fnuz");
  g_assert_cmpuint (klass->n_values, ==, SAFETENSORS_DTYPE_COUNT);
}

static void
test_version (void)
{
  g_assert_cmpuint (safetensors_get_major_version (), ==, SAFETENSORS_MAJOR_VERSION);
  g_assert_cmpuint (safetensors_get_minor_version (), ==, SAFETENSORS_MINOR_VERSION);
  g_assert_cmpuint (safetensors_get_micro_version (), ==, SAFETENSORS_MICRO_VERSION);
  g_assert_true (SAFETENSORS_CHECK_VERSION (1, 0, 0));
  g_assert_false (SAFETENSORS_CHECK_VERSION (SAFETENSORS_MAJOR_VERSION + 1, 0, 0));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/dtype/table", test_dtype_table);
  g_test_add_func ("/safetensors/dtype/case-sensitive", test_dtype_case_sensitive);
  g_test_add_func ("/safetensors/dtype/gtype", test_dtype_gtype);
  g_test_add_func ("/safetensors/version", test_version);

  return g_test_run ();
}
