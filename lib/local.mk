# libbgw: the code every bgw program shares.
noinst_LIBRARIES += lib/libbgw.a
lib_libbgw_a_SOURCES = \
	lib/bdaddr.c lib/bdaddr.h \
	lib/btsnoop.c lib/btsnoop.h \
	lib/cursor.c lib/cursor.h \
	lib/file.c lib/file.h \
	lib/hci.c lib/hci.h lib/hci_defs.h \
	lib/hci_names.c lib/hci_names.h \
	lib/hex.c lib/hex.h \
	lib/homeid.c lib/homeid.h \
	lib/log.c lib/log.h \
	lib/loop.c lib/loop.h \
	lib/pktq.c lib/pktq.h \
	lib/prioq.c lib/prioq.h \
	lib/rpa.c lib/rpa.h \
	lib/secmem.c lib/secmem.h \
	lib/smp_crypto.c lib/smp_crypto.h lib/smp_defs.h
# rpa.c needs AES and homeid.c SHA-256: their users link $(GNUTLS_LIBS);
# smp_crypto.c nettle's CMAC and P-256: its users link $(SMP_CRYPTO_LIBS).
lib_libbgw_a_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(NETTLE_CFLAGS)
SMP_CRYPTO_LIBS = $(NETTLE_LIBS) $(GMP_LIBS)
