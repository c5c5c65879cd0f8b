/*
 * stream_files: the streaming calls of the mss C API over FILE*, for messages of any size.
 *
 *   stream_files CA.pem ALICE_IDENTITY BOB_IDENTITY PASSWORD DRAFT WORKDIR
 *
 * Signs and encrypts the draft file DRAFT (RFC 5322: header fields, blank line, body)
 * from Alice to Bob into WORKDIR/sent.eml with mss_sign_encrypt_stream, then opens it as
 * Bob with mss_open_stream into WORKDIR/clear.eml. Both run in memory bounded whatever the
 * size of the files; a progress callback counts the bytes read.
 *
 * A streamed open writes the clear message before the end of the message is checked: the
 * output goes to WORKDIR/clear.eml.part and is renamed to clear.eml only when
 * mss_open_stream returned MSS_OK (removed otherwise). Finally a write callback that fails
 * like a full disk (ENOSPC) shows that the operation stops with MSS_WRITE_CALLBACK_FAILED.
 *
 * Exit status: 0 only if every step behaved and the signature is valid and trusted.
 * Every handle is freed and every file closed on every path (run under valgrind and ASan).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mss.h"

/* ---- the callbacks: FILE* in, FILE* out ---- */

/* mss_read_callback over a FILE*: 0 and *out_n = 0 at the end of the file. */
static int file_read(void *userdata, uint8_t *buf, size_t len, size_t *out_n) {
    FILE *f = (FILE *)userdata;
    size_t n = fread(buf, 1, len, f);
    if (n == 0 && ferror(f)) {
        return errno != 0 ? errno : EIO;
    }
    *out_n = n;
    return 0;
}

/* mss_write_callback over a FILE*. */
static int file_write(void *userdata, const uint8_t *buf, size_t len, size_t *out_n) {
    FILE *f = (FILE *)userdata;
    size_t n = fwrite(buf, 1, len, f);
    if (n == 0) {
        return errno != 0 ? errno : EIO;
    }
    *out_n = n;
    return 0;
}

/* A write callback that accepts `room` bytes, then fails like a full disk. */
struct full_disk {
    size_t room;
    size_t written;
};

static int full_disk_write(void *userdata, const uint8_t *buf, size_t len, size_t *out_n) {
    struct full_disk *d = (struct full_disk *)userdata;
    (void)buf;
    if (d->written >= d->room) {
        return ENOSPC;
    }
    if (len > d->room - d->written) {
        len = d->room - d->written;
    }
    d->written += len;
    *out_n = len;
    return 0;
}

struct progress {
    const char *what;
    unsigned long calls;
    uint64_t last;
    int backwards;
};

/* Progress: done only grows; total is what we passed (the file size), 0 if unknown. */
static void on_progress(void *userdata, uint64_t done, uint64_t total) {
    struct progress *p = (struct progress *)userdata;
    if (done < p->last) {
        p->backwards = 1;
    }
    if (total != 0 && done * 4 / total != p->last * 4 / total) {
        fprintf(stderr, "[progress] %s: %llu/%llu\n", p->what, (unsigned long long)done,
                (unsigned long long)total);
    }
    p->last = done;
    p->calls++;
}

struct pin_data {
    const char *password;
};

static int ask_pin(void *userdata, const char *prompt, int retries_left, char *buf,
                   size_t buf_len) {
    struct pin_data *pin = (struct pin_data *)userdata;
    size_t len = strlen(pin->password);
    (void)prompt;
    (void)retries_left;
    if (len > buf_len) {
        return -1;
    }
    memcpy(buf, pin->password, len);
    return (int)len;
}

static int fail(const char *call, mss_status status) {
    char message[512];
    mss_last_error_message(message, sizeof message);
    fprintf(stderr, "%s failed: status %u: %s\n", call, (unsigned)status, message);
    return 1;
}

static uint64_t file_size(FILE *f) {
    long size;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        return 0; /* unknown: the progress callback then gets total = 0 */
    }
    return (uint64_t)size;
}

static int read_small_file(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint64_t size;
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size = file_size(f);
    *data = malloc((size_t)size + 1);
    if (*data == NULL || fread(*data, 1, (size_t)size, f) != (size_t)size) {
        free(*data);
        *data = NULL;
        fclose(f);
        return 1;
    }
    *len = (size_t)size;
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    struct pin_data pin = {NULL};
    struct progress progress = {"", 0, 0, 0};
    mss_context *ctx = NULL;
    mss_identity *alice = NULL, *bob = NULL;
    mss_buffer *bob_cert = NULL, *json = NULL;
    mss_report *report = NULL, *never = NULL;
    FILE *in = NULL, *out = NULL;
    uint8_t *ca = NULL;
    size_t ca_len = 0;
    char sent_path[4096], part_path[4096], clear_path[4096];
    mss_status st;
    int rc = 1;

    if (argc != 7) {
        fprintf(stderr, "usage: %s CA.pem ALICE_IDENTITY BOB_IDENTITY PASSWORD DRAFT WORKDIR\n",
                argv[0]);
        return 2;
    }
    pin.password = argv[4];
    snprintf(sent_path, sizeof sent_path, "%s/sent.eml", argv[6]);
    snprintf(part_path, sizeof part_path, "%s/clear.eml.part", argv[6]);
    snprintf(clear_path, sizeof clear_path, "%s/clear.eml", argv[6]);

    if ((st = mss_context_new(&ctx)) != MSS_OK) {
        rc = fail("mss_context_new", st);
        goto out;
    }
    if (read_small_file(argv[1], &ca, &ca_len) != 0) {
        goto out;
    }
    if ((st = mss_context_add_trust_anchor(ctx, ca, ca_len)) != MSS_OK ||
        (st = mss_context_set_progress(ctx, on_progress, &progress)) != MSS_OK) {
        rc = fail("mss_context_*", st);
        goto out;
    }
    if ((st = mss_identity_open_file(argv[2], ask_pin, &pin, &alice)) != MSS_OK ||
        (st = mss_identity_open_file(argv[3], ask_pin, &pin, &bob)) != MSS_OK) {
        rc = fail("mss_identity_open_file", st);
        goto out;
    }
    if ((st = mss_identity_certificate(bob, &bob_cert)) != MSS_OK) {
        rc = fail("mss_identity_certificate", st);
        goto out;
    }

    /* 1. Alice signs and encrypts the draft file to Bob, file to file. */
    if ((in = fopen(argv[5], "rb")) == NULL || (out = fopen(sent_path, "wb")) == NULL) {
        perror("fopen");
        goto out;
    }
    {
        mss_slice recipients[1];
        uint64_t total = file_size(in);
        recipients[0].data = mss_buffer_data(bob_cert);
        recipients[0].len = mss_buffer_len(bob_cert);
        progress.what = "sign+encrypt";
        st = mss_sign_encrypt_stream(ctx, alice, recipients, 1, MSS_CIPHER_AES256_GCM,
                                     MSS_ENCRYPT_OAEP, file_read, in, file_write, out, total);
        if (st != MSS_OK) {
            rc = fail("mss_sign_encrypt_stream", st);
            goto out;
        }
        if (progress.last != total) {
            fprintf(stderr, "progress ended at %llu of %llu\n", (unsigned long long)progress.last,
                    (unsigned long long)total);
            goto out;
        }
    }
    fclose(in);
    in = NULL;
    if (fclose(out) != 0) {
        out = NULL;
        perror(sent_path);
        goto out;
    }
    out = NULL;
    fprintf(stderr, "sent message: %s (%lu progress calls)\n", sent_path, progress.calls);

    /* 2. Bob opens it, file to file: keep the output only on MSS_OK. */
    if ((in = fopen(sent_path, "rb")) == NULL || (out = fopen(part_path, "wb")) == NULL) {
        perror("fopen");
        goto out;
    }
    {
        const mss_identity *keys[1];
        keys[0] = bob;
        progress.what = "open";
        progress.last = 0;
        progress.calls = 0;
        st = mss_open_stream(ctx, keys, 1, file_read, in, file_write, out, file_size(in),
                             &report);
    }
    fclose(in);
    in = NULL;
    if (fclose(out) != 0 && st == MSS_OK) {
        st = MSS_WRITE_CALLBACK_FAILED; /* the last bytes did not reach the disk */
    }
    out = NULL;
    if (st != MSS_OK) {
        remove(part_path); /* discard what was written: it was never checked */
        rc = fail("mss_open_stream", st);
        goto out;
    }
    if (rename(part_path, clear_path) != 0) {
        perror(clear_path);
        goto out;
    }
    if ((st = mss_report_to_json(report, &json)) != MSS_OK) {
        rc = fail("mss_report_to_json", st);
        goto out;
    }
    printf("report: %s\n", (const char *)mss_buffer_data(json));
    printf("clear message: %s (%lu progress calls)\n", clear_path, progress.calls);

    /* 3. A disk that fills up halfway: the open stops, nothing is reported. */
    if ((in = fopen(sent_path, "rb")) == NULL) {
        perror(sent_path);
        goto out;
    }
    {
        const mss_identity *keys[1];
        struct full_disk disk = {64 * 1024, 0};
        char message[256];
        keys[0] = bob;
        progress.what = "open (full disk)";
        progress.last = 0;
        st = mss_open_stream(ctx, keys, 1, file_read, in, full_disk_write, &disk, 0, &never);
        mss_last_error_message(message, sizeof message);
        printf("full disk: status %u: %s\n", (unsigned)st, message);
        if (st != MSS_WRITE_CALLBACK_FAILED || never != NULL) {
            fprintf(stderr, "a failing write callback did not stop the open\n");
            goto out;
        }
    }

    if (progress.backwards) {
        fprintf(stderr, "progress went backwards\n");
    } else if (mss_report_signature_count(report) == 1 &&
               mss_report_signature_status(report, 0) == MSS_SIGNATURE_VALID &&
               mss_report_all_signatures_valid(report) && mss_report_is_encrypted(report)) {
        printf("OK: streamed signature valid\n");
        rc = 0;
    } else {
        fprintf(stderr, "signature not valid\n");
    }

out:
    if (in != NULL) {
        fclose(in);
    }
    if (out != NULL) {
        fclose(out);
    }
    mss_report_free(never);
    mss_buffer_free(json);
    mss_report_free(report);
    mss_buffer_free(bob_cert);
    mss_identity_free(bob);
    mss_identity_free(alice);
    mss_context_free(ctx);
    free(ca);
    return rc;
}
