/*
 * dmarc_record.h - DMARC policy record parser (RFC 7489 6.3, 6.4, 6.6.3;
 * the "np" tag of RFC 9091), pure: bytes in, struct out, no DNS.
 *
 * dmarc_record_parse() takes the TXT record text as (pointer, length); no
 * NUL is needed and NULs in the data are just invalid bytes.  rua/ruf are
 * returned as spans into that input, so the caller keeps the input alive
 * as long as it uses them.  See dmarc_record.c for the decisions the RFC
 * leaves open (duplicate tags, bad optional values).
 */
#ifndef CUTOVER_DMARC_RECORD_H
#define CUTOVER_DMARC_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum dmarc_policy {
	DMARC_POLICY_UNSET = 0,   /* tag absent: fall back as RFC 7489 6.3 says */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_align {
	DMARC_ALIGN_RELAXED = 0,  /* "r", the default */
	DMARC_ALIGN_STRICT,       /* "s" */
};

enum dmarc_fo {               /* failure reporting options, bits */
	DMARC_FO_0 = 1 << 0,
	DMARC_FO_1 = 1 << 1,
	DMARC_FO_D = 1 << 2,
	DMARC_FO_S = 1 << 3,
};

enum dmarc_rf {               /* failure report formats, bits */
	DMARC_RF_AFRF  = 1 << 0,
	DMARC_RF_OTHER = 1 << 1,  /* a syntactically valid name we do not know */
};

/* Tags whose value was invalid and replaced by the default (bits). */
enum dmarc_tag_bit {
	DMARC_TAG_P     = 1 << 0,
	DMARC_TAG_SP    = 1 << 1,
	DMARC_TAG_ADKIM = 1 << 2,
	DMARC_TAG_ASPF  = 1 << 3,
	DMARC_TAG_PCT   = 1 << 4,
	DMARC_TAG_RUA   = 1 << 5,
	DMARC_TAG_RUF   = 1 << 6,
	DMARC_TAG_FO    = 1 << 7,
	DMARC_TAG_RF    = 1 << 8,
	DMARC_TAG_RI    = 1 << 9,
	DMARC_TAG_NP    = 1 << 10,
};

enum dmarc_record_status {
	DMARC_RECORD_OK = 0,
	DMARC_RECORD_OK_AS_NONE,      /* p (or sp) invalid/missing but a valid
	                               * rua: act as p=none (RFC 7489 6.6.3) */
	DMARC_RECORD_ERR_VERSION,     /* not "v=DMARC1" first: not a DMARC record */
	DMARC_RECORD_ERR_DUPLICATE,   /* a tag given twice (RFC 6376 3.2) */
	DMARC_RECORD_ERR_POLICY,      /* p/sp invalid or p missing, no valid rua */
};

struct dmarc_span {
	size_t off;                   /* offset into the parsed input */
	size_t len;                   /* 0: tag absent */
};

struct dmarc_record {
	enum dmarc_policy p;          /* NONE when status is OK_AS_NONE */
	enum dmarc_policy sp;         /* UNSET: use p */
	enum dmarc_policy np;         /* UNSET: use sp, then p (RFC 9091 4.1) */
	enum dmarc_align adkim;
	enum dmarc_align aspf;
	unsigned pct;                 /* 0..100, default 100 */
	unsigned fo;                  /* enum dmarc_fo bits, default DMARC_FO_0 */
	unsigned rf;                  /* enum dmarc_rf bits, default AFRF */
	uint32_t ri;                  /* seconds, default 86400 */
	struct dmarc_span rua;        /* raw tag value, when valid */
	struct dmarc_span ruf;
	unsigned rua_count;           /* syntactically valid URIs in rua */
	unsigned ruf_count;
	unsigned defaulted;           /* enum dmarc_tag_bit: bad value ignored */
};

/*
 * Parse a DMARC record.  *out is always fully set (defaults on error).
 * OK and OK_AS_NONE mean "apply DMARC with *out"; every ERR_* means the
 * record is not usable (the caller treats it as no policy / permerror).
 */
enum dmarc_record_status dmarc_record_parse(const char *s, size_t len,
    struct dmarc_record *out);
const char *dmarc_record_status_text(enum dmarc_record_status st);
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
