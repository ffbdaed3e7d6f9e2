/* Tokens of the .nf graph text (CONTRACT.md §1). The lexer reads a byte
 * buffer that need not be NUL-terminated, one token per call, and reports
 * bad bytes (invalid UTF-8, NUL, non-ASCII outside comments) and malformed
 * numbers at their line and column. */
#ifndef NF_LEXER_H
#define NF_LEXER_H

#include "ir/ir.h"

typedef enum nf_tok_kind {
    NF_TOK_EOF,
    NF_TOK_NAME,   /* [A-Za-z_][A-Za-z0-9_]*: graph/op/dim/keyword names, dtypes, inf, nan */
    NF_TOK_VALUE,  /* '%' [A-Za-z0-9_.]+ ; text excludes the '%' */
    NF_TOK_NUMBER, /* decimal or scientific literal with optional sign; also -inf, +nan */
    NF_TOK_LPAREN,
    NF_TOK_RPAREN,
    NF_TOK_LBRACE,
    NF_TOK_RBRACE,
    NF_TOK_LBRACKET,
    NF_TOK_RBRACKET,
    NF_TOK_COMMA,
    NF_TOK_COLON,
    NF_TOK_EQUALS,
} nf_tok_kind;

typedef struct nf_token {
    nf_tok_kind kind;
    const char *text; /* points into the source; not NUL-terminated */
    size_t len;
    int line, col;    /* 1-based; col counts bytes */
    /* NUMBER only */
    bool is_int;
    int64_t int_value;
    double float_value; /* also set for ints */
} nf_token;

typedef struct nf_lexer {
    const char *src;
    size_t len, pos;
    int line;
    size_t line_start; /* offset of the current line's first byte */
} nf_lexer;

void nf_lexer_init(nf_lexer *lx, const char *src, size_t len);
/* Reads the next token. On a lexical error fills err (NF_ERR_PARSE) and
 * returns false; the lexer should not be used again. */
bool nf_lex(nf_lexer *lx, nf_token *tok, nf_error *err);

/* "'('", "a value", "end of file", ... for messages. */
const char *nf_tok_kind_desc(nf_tok_kind k);
/* Writes a short quoted description of tok ("'foo'", "end of file") for
 * messages; long tokens are cut with "...". */
void nf_tok_describe(const nf_token *tok, char *buf, size_t n);

/* Is this NAME token `inf` or `nan` (a number where an argument is expected)? */
bool nf_name_is_number(const char *s, size_t len, double *out);
/* Parses a float literal exactly as the lexer does (locale-independent);
 * s need not be NUL-terminated. False when s is not a whole valid literal. */
bool nf_parse_float(const char *s, size_t len, double *out);

#endif
