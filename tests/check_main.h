/* SPDX-License-Identifier: MIT */
/* Every unit-test program defines its suite; check_main.c runs it as TAP. */
#ifndef BGW_CHECK_MAIN_H
#define BGW_CHECK_MAIN_H

#include <check.h>

Suite *test_suite(void);

#endif
