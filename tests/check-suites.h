/* check-suites.h - one make_*_suite() per module (libnl layout) */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <check.h>

Suite *make_names_suite(void);
Suite *make_config_suite(void);
Suite *make_mime_suite(void);
Suite *make_verify_suite(void);
Suite *make_cases_suite(void);
Suite *make_corpora_suite(void);
Suite *make_hostile_suite(void);
Suite *make_json_suite(void);
Suite *make_policy_suite(void);
Suite *make_policy_proto_suite(void);
Suite *make_certmap_suite(void);
Suite *make_ldap_suite(void);
Suite *make_doctor_suite(void);
Suite *make_icache_suite(void);
Suite *make_dirindex_suite(void);
Suite *make_limits_suite(void);
Suite *make_threads_suite(void);
Suite *make_keystore_suite(void);
Suite *make_stream_suite(void);
Suite *make_stats_suite(void);
Suite *make_keyd_suite(void);

#endif
