/* Train a layered FANN network with full-batch RPROP and report speed and quality as JSON.
 *
 * The FANN side of bench/bench_fann.py. Build and run (the bench script does both):
 *
 *     gcc -O2 -o bench/build/fann_train bench/fann_train.c -lfann -lm
 *     bench/build/fann_train train.data test.data EPOCHS SEED 64 128 10
 *
 * Network: fann_create_standard with the given layer sizes, sigmoid_symmetric hidden and
 * sigmoid output neurons at FANN's default steepness (0.5), weights uniform in [-0.1, 0.1]
 * (FANN's own default range) drawn after srand(SEED). Training: FANN_TRAIN_RPROP (iRPROP-,
 * one weight update per pass over the data) with FANN's default RPROP parameters and the
 * linear error function, so that the gradient is the one of the mean squared error (FANN's
 * default, FANN_ERRORFUNC_TANH, would reshape it). Only the calls to fann_train_epoch are timed.
 *
 * Output, one JSON object on stdout:
 *     {"epochs": ..., "median_epoch_s": ..., "mean_epoch_s": ..., "train_mse": ...,
 *      "test_accuracy": ..., "threads": 1}
 * train_mse and test_accuracy (argmax of the outputs against argmax of the targets) are
 * measured after the last epoch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fann.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static unsigned int argmax(const fann_type *values, unsigned int count)
{
    unsigned int best = 0;
    for (unsigned int i = 1; i < count; i++)
        if (values[i] > values[best])
            best = i;
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr,
                "usage: %s TRAIN.data TEST.data EPOCHS SEED INPUTS HIDDEN... OUTPUTS\n",
                argv[0]);
        return 2;
    }
    const int epochs = atoi(argv[3]);
    const unsigned int seed = (unsigned int)strtoul(argv[4], NULL, 10);
    const unsigned int num_layers = (unsigned int)(argc - 5);
    unsigned int *layers = malloc(num_layers * sizeof *layers);
    double *epoch_s = malloc((epochs > 0 ? epochs : 1) * sizeof *epoch_s);
    if (epochs < 1 || layers == NULL || epoch_s == NULL) {
        fprintf(stderr, "EPOCHS must be a positive integer\n");
        return 2;
    }
    for (unsigned int i = 0; i < num_layers; i++)
        layers[i] = (unsigned int)atoi(argv[5 + i]);

    struct fann_train_data *train = fann_read_train_from_file(argv[1]);
    struct fann_train_data *test = fann_read_train_from_file(argv[2]);
    if (train == NULL || test == NULL) {
        fprintf(stderr, "could not read %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    struct fann *ann = fann_create_standard_array(num_layers, layers);
    if (ann == NULL) {
        fprintf(stderr, "could not create the network\n");
        return 1;
    }
    if (fann_num_input_train_data(train) != layers[0] ||
        fann_num_output_train_data(train) != layers[num_layers - 1]) {
        fprintf(stderr, "the data does not fit the layer sizes\n");
        return 1;
    }

    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, 0.5);
    fann_set_activation_steepness_output(ann, 0.5);
    fann_set_training_algorithm(ann, FANN_TRAIN_RPROP);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    /* fann_create_* seeds rand() from /dev/urandom; reseed so that runs are repeatable. */
    srand(seed);
    fann_randomize_weights(ann, -0.1f, 0.1f);

    for (int epoch = 0; epoch < epochs; epoch++) {
        double started = now_s();
        fann_train_epoch(ann, train);
        epoch_s[epoch] = now_s() - started;
    }

    double total_s = 0.0;
    for (int epoch = 0; epoch < epochs; epoch++)
        total_s += epoch_s[epoch];
    qsort(epoch_s, (size_t)epochs, sizeof *epoch_s, compare_doubles);
    double median_s = epochs % 2 ? epoch_s[epochs / 2]
                                 : 0.5 * (epoch_s[epochs / 2 - 1] + epoch_s[epochs / 2]);

    float train_mse = fann_test_data(ann, train);
    unsigned int correct = 0, num_test = fann_length_train_data(test);
    unsigned int num_outputs = fann_get_num_output(ann);
    for (unsigned int i = 0; i < num_test; i++) {
        fann_type *outputs = fann_run(ann, test->input[i]);
        correct += argmax(outputs, num_outputs) == argmax(test->output[i], num_outputs);
    }

    printf("{\"epochs\": %d, \"median_epoch_s\": %.9g, \"mean_epoch_s\": %.9g, "
           "\"train_mse\": %.9g, \"test_accuracy\": %.9g, \"threads\": 1}\n",
           epochs, median_s, total_s / epochs, (double)train_mse,
           (double)correct / (double)num_test);

    fann_destroy(ann);
    fann_destroy_train(train);
    fann_destroy_train(test);
    free(layers);
    free(epoch_s);
    return 0;
}
