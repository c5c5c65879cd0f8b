/*
 * sign_encrypt_open: the mss C API end to end.
 *
 *   sign_encrypt_open CA.pem ALICE_IDENTITY BOB_IDENTITY PASSWORD
 *
 * Opens Alice's and Bob's identities (PEM or PKCS#12; PASSWORD is given to the PIN
 * callback, which stands for the vendor's own dialog), signs and encrypts a message from
 * Alice to Bob, opens it as Bob with CA.pem as the trust anchor, and prints the report as
 * JSON and the clear message.
 *
 * Exit status: 0 only if the message opened and every signature is valid and trusted.
 * Every handle is freed on every path (the program runs under valgrind and ASan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mss.h"

struct pin_data {
    const char *password;
    int calls;
};

/* The vendor's password dialog: here, a fixed password from the command line. */
static int ask_pin(void *userdata, const char *prompt, int retries_left, char *buf,
                   size_t buf_len) {
    struct pin_data *pin = (struct pin_data *)userdata;
    size_t len = strlen(pin->password);
    pin->calls++;
    fprintf(stderr, "[pin] %s (retries left: %d)\n", prompt, retries_left);
    if (len > buf_len) {
        return -1; /* cancel */
    }
    memcpy(buf, pin->password, len);
    return (int)len;
}

static void on_progress(void *userdata, uint64_t done, uint64_t total) {
    const char *what = (const char *)userdata;
    fprintf(stderr, "[progress] %s: %llu/%llu\n", what, (unsigned long long)done,
            (unsigned long long)total);
}

/* Print the failed call, its status and the thread's last error message. */
static int fail(const char *call, mss_status status) {
    char small[16];
    size_t needed = mss_last_error_message(small, sizeof small);
    char *message = malloc(needed + 1);
    if (message != NULL) {
        mss_last_error_message(message, needed + 1);
        fprintf(stderr, "%s failed: status %u: %s\n", call, (unsigned)status, message);
        free(message);
    }
    return 1;
}

static int read_file(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    long size;
    if (f == NULL) {
        perror(path);
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return 1;
    }
    *data = malloc((size_t)size + 1);
    if (*data == NULL || fread(*data, 1, (size_t)size, f) != (size_t)size) {
        free(*data);
        fclose(f);
        return 1;
    }
    *len = (size_t)size;
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    static const char draft[] = "From: Alice <alice@example.org>\r\n"
                                "To: Bob <bob@example.org>\r\n"
                                "Subject: Compte rendu\r\n"
                                "\r\n"
                                "Bonjour Bob, voici le compte rendu de consultation.\r\n";
    struct pin_data pin = {NULL, 0};
    mss_context *ctx = NULL;
    mss_identity *alice = NULL, *bob = NULL;
    mss_buffer *bob_cert = NULL, *sent = NULL, *clear = NULL, *json = NULL;
    mss_report *report = NULL;
    uint8_t *ca = NULL;
    size_t ca_len = 0;
    mss_status st;
    int rc = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: %s CA.pem ALICE_IDENTITY BOB_IDENTITY PASSWORD\n", argv[0]);
        return 2;
    }
    pin.password = argv[4];
    printf("mss %s\n", mss_version());

    if ((st = mss_context_new(&ctx)) != MSS_OK) {
        rc = fail("mss_context_new", st);
        goto out;
    }
    if (read_file(argv[1], &ca, &ca_len) != 0) {
        goto out;
    }
    if ((st = mss_context_add_trust_anchor(ctx, ca, ca_len)) != MSS_OK) {
        rc = fail("mss_context_add_trust_anchor", st);
        goto out;
    }
    if ((st = mss_context_set_progress(ctx, on_progress, "operation")) != MSS_OK) {
        rc = fail("mss_context_set_progress", st);
        goto out;
    }
    if ((st = mss_identity_open_file(argv[2], ask_pin, &pin, &alice)) != MSS_OK) {
        rc = fail("mss_identity_open_file(alice)", st);
        goto out;
    }
    if ((st = mss_identity_open_file(argv[3], ask_pin, &pin, &bob)) != MSS_OK) {
        rc = fail("mss_identity_open_file(bob)", st);
        goto out;
    }

    /* Alice writes to Bob: she needs Bob's certificate (here from his identity). */
    if ((st = mss_identity_certificate(bob, &bob_cert)) != MSS_OK) {
        rc = fail("mss_identity_certificate", st);
        goto out;
    }
    {
        mss_slice recipients[1];
        recipients[0].data = mss_buffer_data(bob_cert);
        recipients[0].len = mss_buffer_len(bob_cert);
        st = mss_sign_encrypt(ctx, alice, recipients, 1, MSS_CIPHER_AES256_GCM, MSS_ENCRYPT_OAEP,
                              (const uint8_t *)draft, sizeof draft - 1, &sent);
        if (st != MSS_OK) {
            rc = fail("mss_sign_encrypt", st);
            goto out;
        }
    }
    fprintf(stderr, "sent message: %zu bytes\n", mss_buffer_len(sent));

    /* Bob opens it. */
    {
        const mss_identity *keys[1];
        keys[0] = bob;
        st = mss_open(ctx, keys, 1, mss_buffer_data(sent), mss_buffer_len(sent), &clear, &report);
        if (st != MSS_OK) {
            rc = fail("mss_open", st);
            goto out;
        }
    }
    if ((st = mss_report_to_json(report, &json)) != MSS_OK) {
        rc = fail("mss_report_to_json", st);
        goto out;
    }
    printf("report: %s\n", (const char *)mss_buffer_data(json));
    printf("encrypted: %s, cipher: %s, reply level: %u\n",
           mss_report_is_encrypted(report) ? "yes" : "no",
           mss_report_content_cipher(report) ? mss_report_content_cipher(report) : "-",
           (unsigned)mss_reply_level(report));
    {
        size_t i;
        for (i = 0; i < mss_report_signature_count(report); i++) {
            const char *email = mss_report_signer_email(report, i);
            printf("signature %zu: status %u, signer %s <%s>\n", i,
                   (unsigned)mss_report_signature_status(report, i),
                   mss_report_signer_subject(report, i), email ? email : "?");
        }
        for (i = 0; i < mss_report_warning_count(report); i++) {
            printf("warning: %s\n", mss_report_warning(report, i));
        }
    }
    printf("---- clear message ----\n%s\n", (const char *)mss_buffer_data(clear));

    if (pin.calls < 1) {
        fprintf(stderr, "the PIN callback was never called\n");
    } else if (mss_report_signature_count(report) == 1 &&
               mss_report_signature_status(report, 0) == MSS_SIGNATURE_VALID &&
               mss_report_all_signatures_valid(report) && mss_report_is_encrypted(report) &&
               strstr((const char *)mss_buffer_data(clear), "compte rendu de consultation") != NULL) {
        printf("OK: signature valid\n");
        rc = 0;
    } else {
        fprintf(stderr, "signature not valid or message altered\n");
    }

out:
    mss_buffer_free(json);
    mss_report_free(report);
    mss_buffer_free(clear);
    mss_buffer_free(sent);
    mss_buffer_free(bob_cert);
    mss_identity_free(bob);
    mss_identity_free(alice);
    mss_context_free(ctx);
    free(ca);
    return rc;
}
