/* The .nf lexer: bytes to tokens, with every bad byte reported where it is. */
#include "lexer.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer float literals are refused rather than handed to strtod, whose
 * cost grows with the digit count. Ints are bounded by the range check. */
#define NF_MAX_FLOAT_LITERAL 1024

void nf_lexer_init(nf_lexer *lx, const char *src, size_t len)
{
    lx->src = src;
    lx->len = len;
    lx->pos = 0;
    lx->line = 1;
    lx->line_start = 0;
}

static int col_at(const nf_lexer *lx, size_t pos)
{
    size_t c = pos - lx->line_start + 1;
    return c > (size_t)INT32_MAX ? INT32_MAX : (int)c;
}

static bool lex_fail(nf_lexer *lx, nf_error *err, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool lex_fail(nf_lexer *lx, nf_error *err, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nf_set_verror(err, NF_ERR_PARSE, lx->line, col_at(lx, pos), fmt, ap);
    va_end(ap);
    return false;
}

static bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_name_char(unsigned char c) { return is_alpha(c) || is_digit(c) || c == '_'; }
static bool is_value_char(unsigned char c) { return is_name_char(c) || c == '.'; }

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when the bytes
 * there are not one (overlong forms, surrogates and > U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *s, size_t avail, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        *cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        *cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char b = s[i];
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h)
            return 0;
        *cp = (*cp << 6) | (b & 0x3F);
    }
    return n;
}

/* Skips blanks, newlines and comments; checks the bytes inside comments. */
static bool skip_space(nf_lexer *lx, nf_error *err)
{
    const unsigned char *s = (const unsigned char *)lx->src;
    while (lx->pos < lx->len) {
        unsigned char c = s[lx->pos];
        if (c == ' ' || c == '\t' || c == '\r') {
            lx->pos++;
        } else if (c == '\n') {
            lx->pos++;
            if (lx->line < INT32_MAX)
                lx->line++;
            lx->line_start = lx->pos;
        } else if (c == '#') {
            while (lx->pos < lx->len && s[lx->pos] != '\n') {
                unsigned char b = s[lx->pos];
                uint32_t cp;
                if (b == 0)
                    return lex_fail(lx, err, lx->pos, "unexpected NUL byte");
                if (b < 0x80) {
                    lx->pos++;
                    continue;
                }
                size_t n = utf8_sequence(s + lx->pos, lx->len - lx->pos, &cp);
                if (n == 0)
                    return lex_fail(lx, err, lx->pos, "invalid UTF-8 byte 0x%02X", b);
                lx->pos += n;
            }
        } else {
            return true;
        }
    }
    return true;
}

static bool bad_character(nf_lexer *lx, nf_error *err)
{
    const unsigned char *s = (const unsigned char *)lx->src + lx->pos;
    uint32_t cp;
    if (s[0] == 0)
        return lex_fail(lx, err, lx->pos, "unexpected NUL byte");
    if (s[0] >= 0x80) {
        if (utf8_sequence(s, lx->len - lx->pos, &cp) == 0)
            return lex_fail(lx, err, lx->pos, "invalid UTF-8 byte 0x%02X", s[0]);
        return lex_fail(lx, err, lx->pos,
                        "unexpected character U+%04X (non-ASCII text is allowed only in comments)",
                        (unsigned)cp);
    }
    if (s[0] >= 0x20 && s[0] < 0x7F)
        return lex_fail(lx, err, lx->pos, "unexpected character '%c'", s[0]);
    return lex_fail(lx, err, lx->pos, "unexpected control character 0x%02X", s[0]);
}

bool nf_parse_float(const char *s, size_t len, double *out)
{
    char buf[NF_MAX_FLOAT_LITERAL + 8];
    if (len == 0 || len > NF_MAX_FLOAT_LITERAL)
        return false;
    /* strtod follows the process locale; spell the decimal point its way. */
    const char *point = localeconv()->decimal_point;
    size_t plen = point && point[0] ? strlen(point) : 1;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' && point && point[0]) {
            if (o + plen >= sizeof buf)
                return false;
            memcpy(buf + o, point, plen);
            o += plen;
        } else {
            if (o + 1 >= sizeof buf)
                return false;
            buf[o++] = s[i];
        }
    }
    buf[o] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + o)
        return false;
    if (errno == ERANGE && isinf(d))
        return false;
    *out = d;
    return true;
}

bool nf_name_is_number(const char *s, size_t len, double *out)
{
    if (len == 3 && memcmp(s, "inf", 3) == 0) {
        *out = INFINITY;
        return true;
    }
    if (len == 3 && memcmp(s, "nan", 3) == 0) {
        *out = NAN;
        return true;
    }
    return false;
}

/* A number: [+-] (digits [. digits] | . digits) [(e|E) [+-] digits], or
 * [+-] inf / nan. The whole run of number-like characters is taken first so
 * that `1.2.3` and `1e` are one bad token rather than two good ones. */
static bool lex_number(nf_lexer *lx, nf_token *tok, nf_error *err)
{
    const char *s = lx->src;
    size_t start = lx->pos, p = lx->pos;
    bool negative = false;
    if (s[p] == '+' || s[p] == '-') {
        negative = s[p] == '-';
        p++;
    }
    if (p < lx->len && is_alpha((unsigned char)s[p])) {
        size_t q = p;
        while (q < lx->len && is_name_char((unsigned char)s[q]))
            q++;
        double v;
        if (!nf_name_is_number(s + p, q - p, &v))
            return lex_fail(lx, err, start, "bad number '%.*s'", (int)(q - start > 40 ? 40 : q - start),
                            s + start);
        tok->kind = NF_TOK_NUMBER;
        tok->is_int = false;
        tok->float_value = negative ? -v : v;
        tok->int_value = 0;
        tok->len = q - start;
        lx->pos = q;
        return true;
    }
    if (p >= lx->len || !(is_digit((unsigned char)s[p]) || s[p] == '.'))
        return bad_character(lx, err);

    size_t run = p;
    while (run < lx->len) {
        unsigned char c = (unsigned char)s[run];
        if (is_value_char(c)) {
            run++;
        } else if ((c == '+' || c == '-') && (s[run - 1] == 'e' || s[run - 1] == 'E')) {
            run++;
        } else {
            break;
        }
    }
    size_t tok_len = run - start;
    int shown = tok_len > 40 ? 40 : (int)tok_len;
    const char *dots = tok_len > 40 ? "..." : "";

    /* Validate the shape of the literal. */
    size_t i = p, mant_digits = 0;
    bool is_float = false;
    while (i < run && is_digit((unsigned char)s[i]))
        i++, mant_digits++;
    if (i < run && s[i] == '.') {
        is_float = true;
        i++;
        while (i < run && is_digit((unsigned char)s[i]))
            i++, mant_digits++;
    }
    bool ok = mant_digits > 0;
    if (ok && i < run && (s[i] == 'e' || s[i] == 'E')) {
        is_float = true;
        i++;
        if (i < run && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < run && is_digit((unsigned char)s[i]))
            i++, exp_digits++;
        ok = exp_digits > 0;
    }
    if (!ok || i != run)
        return lex_fail(lx, err, start, "bad number '%.*s%s'", shown, s + start, dots);

    tok->kind = NF_TOK_NUMBER;
    tok->len = tok_len;
    tok->is_int = !is_float;
    if (is_float) {
        if (tok_len > NF_MAX_FLOAT_LITERAL)
            return lex_fail(lx, err, start, "number literal too long (%zu characters, at most %d)",
                            tok_len, NF_MAX_FLOAT_LITERAL);
        double d;
        if (!nf_parse_float(s + start, tok_len, &d))
            return lex_fail(lx, err, start, "number '%.*s%s' is out of range of a double (write inf)",
                            shown, s + start, dots);
        tok->float_value = d;
        tok->int_value = 0;
    } else {
        /* Accumulate the magnitude; -2^63 is representable, 2^63 is not. */
        uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        uint64_t mag = 0;
        for (size_t k = p; k < run; k++) {
            unsigned d = (unsigned)(s[k] - '0');
            if (mag > (limit - d) / 10)
                return lex_fail(lx, err, start, "integer '%.*s%s' does not fit in 64 bits", shown,
                                s + start, dots);
            mag = mag * 10 + d;
        }
        if (negative)
            tok->int_value = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag;
        else
            tok->int_value = (int64_t)mag;
        tok->float_value = (double)tok->int_value;
    }
    lx->pos = run;
    return true;
}

bool nf_lex(nf_lexer *lx, nf_token *tok, nf_error *err)
{
    memset(tok, 0, sizeof *tok);
    if (!skip_space(lx, err))
        return false;
    tok->line = lx->line;
    tok->col = col_at(lx, lx->pos);
    tok->text = lx->src + lx->pos;
    if (lx->pos >= lx->len) {
        tok->kind = NF_TOK_EOF;
        return true;
    }
    const char *s = lx->src;
    unsigned char c = (unsigned char)s[lx->pos];
    static const struct {
        char c;
        nf_tok_kind kind;
    } punct[] = {
        {'(', NF_TOK_LPAREN},   {')', NF_TOK_RPAREN},   {'{', NF_TOK_LBRACE},
        {'}', NF_TOK_RBRACE},   {'[', NF_TOK_LBRACKET}, {']', NF_TOK_RBRACKET},
        {',', NF_TOK_COMMA},    {':', NF_TOK_COLON},    {'=', NF_TOK_EQUALS},
    };
    for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++) {
        if (c == (unsigned char)punct[i].c) {
            tok->kind = punct[i].kind;
            tok->len = 1;
            lx->pos++;
            return true;
        }
    }
    if (c == '%') {
        size_t p = lx->pos + 1;
        while (p < lx->len && is_value_char((unsigned char)s[p]))
            p++;
        if (p == lx->pos + 1)
            return lex_fail(lx, err, lx->pos, "expected a value name after '%%'");
        tok->kind = NF_TOK_VALUE;
        tok->text = s + lx->pos + 1;
        tok->len = p - lx->pos - 1;
        lx->pos = p;
        return true;
    }
    if (is_alpha(c) || c == '_') {
        size_t p = lx->pos;
        while (p < lx->len && is_name_char((unsigned char)s[p]))
            p++;
        tok->kind = NF_TOK_NAME;
        tok->len = p - lx->pos;
        lx->pos = p;
        return true;
    }
    if (is_digit(c) || c == '.' || c == '+' || c == '-')
        return lex_number(lx, tok, err);
    return bad_character(lx, err);
}

const char *nf_tok_kind_desc(nf_tok_kind k)
{
    switch (k) {
    case NF_TOK_EOF: return "end of file";
    case NF_TOK_NAME: return "a name";
    case NF_TOK_VALUE: return "a %value";
    case NF_TOK_NUMBER: return "a number";
    case NF_TOK_LPAREN: return "'('";
    case NF_TOK_RPAREN: return "')'";
    case NF_TOK_LBRACE: return "'{'";
    case NF_TOK_RBRACE: return "'}'";
    case NF_TOK_LBRACKET: return "'['";
    case NF_TOK_RBRACKET: return "']'";
    case NF_TOK_COMMA: return "','";
    case NF_TOK_COLON: return "':'";
    case NF_TOK_EQUALS: return "'='";
    }
    return "a token";
}

void nf_tok_describe(const nf_token *tok, char *buf, size_t n)
{
    if (tok->kind == NF_TOK_EOF) {
        snprintf(buf, n, "end of file");
        return;
    }
    int shown = tok->len > 40 ? 40 : (int)tok->len;
    snprintf(buf, n, "'%s%.*s%s'", tok->kind == NF_TOK_VALUE ? "%" : "", shown, tok->text,
             tok->len > 40 ? "..." : "");
}
