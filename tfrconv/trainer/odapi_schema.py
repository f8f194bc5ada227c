"""The OD API's pipeline-config messages as a field table: name, number, type, default.

This is the contract `object_detection/protos/*.proto` defines (package
`object_detection.protos`, proto2), restated as data so the trainer can read pipeline configs with
protobuf alone: no OD API install, no generated code tied to one protobuf version. It covers
every message reachable from `TrainEvalPipelineConfig` in the OD API's 2022 protos (the last
release: tf-models-research-object-detection 2.8.0; upstream's center_net.proto still ends at the
same field number). tests/test_trainer_schema.py checks every line against those real
descriptors when they are installed.

Format, one item per line:
  msg Name | msg Outer.Inner            a message (nested names use dots)
    N name type [=default]             a field; `*type` is repeated
    oneof group: field field ...        members of a oneof (lines with one group add up)
    enum Name VALUE=N ...               an enum nested in the message (lines add up)
    extensions N [M]                    an extension range N..M (default: the largest number)
  enum Name VALUE=N ...                 a file-level enum
  map Outer.NameEntry keytype valuetype a map field's entry message
Scalar types: double float int32 int64 uint32 uint64 bool string bytes; anything else names a
message or enum of the table.
"""

SCHEMA = """
# -- pipeline
msg TrainEvalPipelineConfig
  extensions 1000
  1 model DetectionModel
  2 train_config TrainConfig
  3 train_input_reader InputReader
  4 eval_config EvalConfig
  5 eval_input_reader *InputReader
  6 graph_rewriter GraphRewriter

# -- model
msg DetectionModel
  oneof model: faster_rcnn ssd experimental_model center_net
  1 faster_rcnn FasterRcnn
  2 ssd Ssd
  3 experimental_model ExperimentalModel
  4 center_net CenterNet
msg ExperimentalModel
  1 name string

# -- faster_rcnn
enum AttentionPosition ATTENTION_DEFAULT=0 POST_BOX_CLASSIFIER=1 POST_RPN=2
msg FasterRcnn
  1 number_of_stages int32 =2
  3 num_classes int32
  4 image_resizer ImageResizer
  5 feature_extractor FasterRcnnFeatureExtractor
  6 first_stage_anchor_generator AnchorGenerator
  7 first_stage_atrous_rate int32 =1
  8 first_stage_box_predictor_conv_hyperparams Hyperparams
  9 first_stage_box_predictor_kernel_size int32 =3
  10 first_stage_box_predictor_depth int32 =512
  11 first_stage_minibatch_size int32 =256
  12 first_stage_positive_balance_fraction float =0.5
  13 first_stage_nms_score_threshold float =0.0
  14 first_stage_nms_iou_threshold float =0.7
  15 first_stage_max_proposals int32 =300
  16 first_stage_localization_loss_weight float =1.0
  17 first_stage_objectness_loss_weight float =1.0
  18 initial_crop_size int32
  19 maxpool_kernel_size int32
  20 maxpool_stride int32
  21 second_stage_box_predictor BoxPredictor
  22 second_stage_batch_size int32 =64
  23 second_stage_balance_fraction float =0.25
  24 second_stage_post_processing PostProcessing
  25 second_stage_localization_loss_weight float =1.0
  26 second_stage_classification_loss_weight float =1.0
  27 second_stage_mask_prediction_loss_weight float =1.0
  28 hard_example_miner HardExampleMiner
  29 second_stage_classification_loss ClassificationLoss
  30 inplace_batchnorm_update bool =false
  31 use_matmul_crop_and_resize bool =false
  32 clip_anchors_to_image bool =false
  33 use_matmul_gather_in_matcher bool =false
  34 use_static_balanced_label_sampler bool =false
  35 use_static_shapes bool =false
  36 resize_masks bool =true
  37 use_static_shapes_for_eval bool =false
  38 use_partitioned_nms_in_first_stage bool =true
  39 return_raw_detections_during_predict bool =false
  40 use_combined_nms_in_first_stage bool =false
  42 output_final_box_features bool =false
  43 output_final_box_rpn_features bool =false
  41 context_config Context
msg FasterRcnnFeatureExtractor
  1 type string
  2 first_stage_features_stride int32 =16
  3 batch_norm_trainable bool =false
  4 conv_hyperparams Hyperparams
  5 override_base_feature_extractor_hyperparams bool =false
  6 pad_to_multiple int32 =32
  7 fpn FeaturePyramidNetworks
msg Context
  1 max_num_context_features int32 =2000
  2 attention_bottleneck_dimension int32 =2048
  3 attention_temperature float =0.01
  4 context_feature_length int32 =2057
  6 use_self_attention bool =false
  7 use_long_term_attention bool =true
  8 self_attention_in_sequence bool =false
  9 num_attention_heads int32 =1
  11 num_attention_layers int32 =1
  10 attention_position AttentionPosition =POST_BOX_CLASSIFIER

# -- image_resizer
enum ResizeType BILINEAR=0 NEAREST_NEIGHBOR=1 BICUBIC=2 AREA=3
msg ImageResizer
  oneof image_resizer_oneof: keep_aspect_ratio_resizer fixed_shape_resizer identity_resizer
  oneof image_resizer_oneof: conditional_shape_resizer pad_to_multiple_resizer
  1 keep_aspect_ratio_resizer KeepAspectRatioResizer
  2 fixed_shape_resizer FixedShapeResizer
  3 identity_resizer IdentityResizer
  4 conditional_shape_resizer ConditionalShapeResizer
  5 pad_to_multiple_resizer PadToMultipleResizer
msg KeepAspectRatioResizer
  1 min_dimension int32 =600
  2 max_dimension int32 =1024
  3 resize_method ResizeType =BILINEAR
  4 pad_to_max_dimension bool =false
  5 convert_to_grayscale bool =false
  6 per_channel_pad_value *float
msg FixedShapeResizer
  1 height int32 =300
  2 width int32 =300
  3 resize_method ResizeType =BILINEAR
  4 convert_to_grayscale bool =false
msg IdentityResizer
msg ConditionalShapeResizer
  enum ResizeCondition INVALID=0 GREATER=1 SMALLER=2
  1 condition ConditionalShapeResizer.ResizeCondition =GREATER
  2 size_threshold int32 =300
  3 resize_method ResizeType =BILINEAR
  4 convert_to_grayscale bool =false
msg PadToMultipleResizer
  1 multiple int32 =1
  4 convert_to_grayscale bool =false

# -- hyperparams
msg Hyperparams
  enum Op CONV=1 FC=2
  enum Activation NONE=0 RELU=1 RELU_6=2 SWISH=3
  oneof normalizer_oneof: batch_norm sync_batch_norm group_norm
  1 op Hyperparams.Op =CONV
  2 regularizer Regularizer
  3 initializer Initializer
  4 activation Hyperparams.Activation =RELU
  5 batch_norm BatchNorm
  9 sync_batch_norm BatchNorm
  7 group_norm GroupNorm
  6 regularize_depthwise bool =false
  8 force_use_bias bool =false
msg Regularizer
  oneof regularizer_oneof: l1_regularizer l2_regularizer
  1 l1_regularizer L1Regularizer
  2 l2_regularizer L2Regularizer
msg L1Regularizer
  1 weight float =1.0
msg L2Regularizer
  1 weight float =1.0
msg Initializer
  oneof initializer_oneof: truncated_normal_initializer variance_scaling_initializer
  oneof initializer_oneof: random_normal_initializer keras_initializer_by_name
  1 truncated_normal_initializer TruncatedNormalInitializer
  2 variance_scaling_initializer VarianceScalingInitializer
  3 random_normal_initializer RandomNormalInitializer
  4 keras_initializer_by_name string
msg TruncatedNormalInitializer
  1 mean float =0.0
  2 stddev float =1.0
msg VarianceScalingInitializer
  enum Mode FAN_IN=0 FAN_OUT=1 FAN_AVG=2
  1 factor float =2.0
  2 uniform bool =false
  3 mode VarianceScalingInitializer.Mode =FAN_IN
msg RandomNormalInitializer
  1 mean float =0.0
  2 stddev float =1.0
msg BatchNorm
  1 decay float =0.999
  2 center bool =true
  3 scale bool =false
  4 epsilon float =0.001
  5 train bool =true
msg GroupNorm

# -- fpn
msg FeaturePyramidNetworks
  1 min_level int32 =3
  2 max_level int32 =7
  3 additional_layer_depth int32 =256
msg BidirectionalFeaturePyramidNetworks
  1 min_level int32 =3
  2 max_level int32 =7
  3 num_iterations int32
  4 num_filters int32
  5 combine_method string ="fast_attention"

# -- anchor_generator
msg AnchorGenerator
  oneof anchor_generator_oneof: grid_anchor_generator ssd_anchor_generator
  oneof anchor_generator_oneof: multiscale_anchor_generator flexible_grid_anchor_generator
  1 grid_anchor_generator GridAnchorGenerator
  2 ssd_anchor_generator SsdAnchorGenerator
  3 multiscale_anchor_generator MultiscaleAnchorGenerator
  4 flexible_grid_anchor_generator FlexibleGridAnchorGenerator

# -- grid_anchor_generator
msg GridAnchorGenerator
  1 height int32 =256
  2 width int32 =256
  3 height_stride int32 =16
  4 width_stride int32 =16
  5 height_offset int32 =0
  6 width_offset int32 =0
  7 scales *float
  8 aspect_ratios *float

# -- ssd_anchor_generator
msg SsdAnchorGenerator
  1 num_layers int32 =6
  2 min_scale float =0.2
  3 max_scale float =0.95
  12 scales *float
  4 aspect_ratios *float
  13 interpolated_scale_aspect_ratio float =1.0
  5 reduce_boxes_in_lowest_layer bool =true
  6 base_anchor_height float =1.0
  7 base_anchor_width float =1.0
  8 height_stride *int32
  9 width_stride *int32
  10 height_offset *int32
  11 width_offset *int32

# -- multiscale_anchor_generator
msg MultiscaleAnchorGenerator
  1 min_level int32 =3
  2 max_level int32 =7
  3 anchor_scale float =4.0
  4 aspect_ratios *float
  5 scales_per_octave int32 =2
  6 normalize_coordinates bool =true

# -- flexible_grid_anchor_generator
msg FlexibleGridAnchorGenerator
  1 anchor_grid *AnchorGrid
  2 normalize_coordinates bool =true
msg AnchorGrid
  1 base_sizes *float
  2 aspect_ratios *float
  3 height_stride uint32
  4 width_stride uint32
  5 height_offset uint32 =0
  6 width_offset uint32 =0

# -- box_predictor
msg BoxPredictor
  oneof box_predictor_oneof: convolutional_box_predictor mask_rcnn_box_predictor
  oneof box_predictor_oneof: rfcn_box_predictor weight_shared_convolutional_box_predictor
  1 convolutional_box_predictor ConvolutionalBoxPredictor
  2 mask_rcnn_box_predictor MaskRCNNBoxPredictor
  3 rfcn_box_predictor RfcnBoxPredictor
  4 weight_shared_convolutional_box_predictor WeightSharedConvolutionalBoxPredictor
msg ConvolutionalBoxPredictor
  1 conv_hyperparams Hyperparams
  2 min_depth int32 =0
  3 max_depth int32 =0
  4 num_layers_before_predictor int32 =0
  5 use_dropout bool =true
  6 dropout_keep_probability float =0.8
  7 kernel_size int32 =1
  8 box_code_size int32 =4
  9 apply_sigmoid_to_scores bool =false
  10 class_prediction_bias_init float =0.0
  11 use_depthwise bool =false
  12 box_encodings_clip_range ConvolutionalBoxPredictor.BoxEncodingsClipRange
msg ConvolutionalBoxPredictor.BoxEncodingsClipRange
  1 min float
  2 max float
msg MaskRCNNBoxPredictor
  1 fc_hyperparams Hyperparams
  2 use_dropout bool =false
  3 dropout_keep_probability float =0.5
  4 box_code_size int32 =4
  5 conv_hyperparams Hyperparams
  6 predict_instance_masks bool =false
  7 mask_prediction_conv_depth int32 =256
  8 predict_keypoints bool =false
  9 mask_height int32 =15
  10 mask_width int32 =15
  11 mask_prediction_num_conv_layers int32 =2
  12 masks_are_class_agnostic bool =false
  13 share_box_across_classes bool =false
  14 convolve_then_upsample_masks bool =false
msg RfcnBoxPredictor
  1 conv_hyperparams Hyperparams
  2 num_spatial_bins_height int32 =3
  3 num_spatial_bins_width int32 =3
  4 depth int32 =1024
  5 box_code_size int32 =4
  6 crop_height int32 =12
  7 crop_width int32 =12
msg WeightSharedConvolutionalBoxPredictor
  enum ScoreConverter IDENTITY=0 SIGMOID=1
  1 conv_hyperparams Hyperparams
  19 apply_conv_hyperparams_to_heads bool =false
  20 apply_conv_hyperparams_pointwise bool =false
  4 num_layers_before_predictor int32 =0
  2 depth int32 =0
  7 kernel_size int32 =3
  8 box_code_size int32 =4
  10 class_prediction_bias_init float =0.0
  11 use_dropout bool =false
  12 dropout_keep_probability float =0.8
  13 share_prediction_tower bool =false
  14 use_depthwise bool =false
  16 score_converter WeightSharedConvolutionalBoxPredictor.ScoreConverter =IDENTITY
  17 box_encodings_clip_range WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange
msg WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange
  1 min float
  2 max float

# -- post_processing
msg PostProcessing
  enum ScoreConverter IDENTITY=0 SIGMOID=1 SOFTMAX=2
  1 batch_non_max_suppression BatchNonMaxSuppression
  2 score_converter PostProcessing.ScoreConverter =IDENTITY
  3 logit_scale float =1.0
  4 calibration_config CalibrationConfig
msg BatchNonMaxSuppression
  1 score_threshold float =0.0
  2 iou_threshold float =0.6
  3 max_detections_per_class int32 =100
  5 max_total_detections int32 =100
  6 use_static_shapes bool =false
  7 use_class_agnostic_nms bool =false
  8 max_classes_per_detection int32 =1
  9 soft_nms_sigma float =0.0
  10 use_partitioned_nms bool =false
  11 use_combined_nms bool =false
  12 change_coordinate_frame bool =true
  13 use_hard_nms bool =false
  14 use_cpu_nms bool =false

# -- calibration
enum TrainingDataType DATA_TYPE_UNKNOWN=0 ALL_CLASSES=1 CLASS_SPECIFIC=2
msg CalibrationConfig
  oneof calibrator: function_approximation class_id_function_approximations sigmoid_calibration
  oneof calibrator: class_id_sigmoid_calibrations temperature_scaling_calibration
  1 function_approximation FunctionApproximation
  2 class_id_function_approximations ClassIdFunctionApproximations
  3 sigmoid_calibration SigmoidCalibration
  4 class_id_sigmoid_calibrations ClassIdSigmoidCalibrations
  5 temperature_scaling_calibration TemperatureScalingCalibration
msg FunctionApproximation
  1 x_y_pairs XYPairs
msg XYPairs
  1 x_y_pair *XYPairs.XYPair
  2 training_data_type TrainingDataType
msg XYPairs.XYPair
  1 x float
  2 y float
msg ClassIdFunctionApproximations
  1 class_id_xy_pairs_map *ClassIdFunctionApproximations.ClassIdXyPairsMapEntry
map ClassIdFunctionApproximations.ClassIdXyPairsMapEntry int32 XYPairs
msg SigmoidCalibration
  1 sigmoid_parameters SigmoidParameters
msg SigmoidParameters
  1 a float =-1.0
  2 b float =0.0
msg ClassIdSigmoidCalibrations
  1 class_id_sigmoid_parameters_map *ClassIdSigmoidCalibrations.ClassIdSigmoidParametersMapEntry
map ClassIdSigmoidCalibrations.ClassIdSigmoidParametersMapEntry int32 SigmoidParameters
msg TemperatureScalingCalibration
  1 scaler float

# -- losses
msg HardExampleMiner
  enum LossType BOTH=0 CLASSIFICATION=1 LOCALIZATION=2
  1 num_hard_examples int32 =64
  2 iou_threshold float =0.7
  3 loss_type HardExampleMiner.LossType =BOTH
  4 max_negatives_per_positive int32 =0
  5 min_negatives_per_image int32 =0
msg ClassificationLoss
  oneof classification_loss: weighted_sigmoid weighted_softmax weighted_logits_softmax
  oneof classification_loss: bootstrapped_sigmoid weighted_sigmoid_focal
  oneof classification_loss: penalty_reduced_logistic_focal_loss
  oneof classification_loss: weighted_dice_classification_loss
  1 weighted_sigmoid WeightedSigmoidClassificationLoss
  2 weighted_softmax WeightedSoftmaxClassificationLoss
  5 weighted_logits_softmax WeightedSoftmaxClassificationAgainstLogitsLoss
  3 bootstrapped_sigmoid BootstrappedSigmoidClassificationLoss
  4 weighted_sigmoid_focal SigmoidFocalClassificationLoss
  6 penalty_reduced_logistic_focal_loss PenaltyReducedLogisticFocalLoss
  7 weighted_dice_classification_loss WeightedDiceClassificationLoss
msg WeightedSigmoidClassificationLoss
  1 anchorwise_output bool =false
msg WeightedSoftmaxClassificationLoss
  1 anchorwise_output bool =false
  2 logit_scale float =1.0
msg WeightedSoftmaxClassificationAgainstLogitsLoss
  1 anchorwise_output bool =false
  2 logit_scale float =1.0
msg BootstrappedSigmoidClassificationLoss
  1 alpha float
  2 hard_bootstrap bool =false
  3 anchorwise_output bool =false
msg SigmoidFocalClassificationLoss
  1 anchorwise_output bool =false
  2 gamma float =2.0
  3 alpha float
msg PenaltyReducedLogisticFocalLoss
  1 alpha float
  2 beta float
msg WeightedDiceClassificationLoss
  1 squared_normalization bool =false
  2 is_prediction_probability bool =false
msg Loss
  enum ExpectedLossWeights NONE=0 EXPECTED_SAMPLING=1 REWEIGHTING_UNMATCHED_ANCHORS=2
  1 localization_loss LocalizationLoss
  2 classification_loss ClassificationLoss
  3 hard_example_miner HardExampleMiner
  4 classification_weight float =1.0
  5 localization_weight float =1.0
  6 random_example_sampler RandomExampleSampler
  7 equalization_loss Loss.EqualizationLoss
  18 expected_loss_weights Loss.ExpectedLossWeights =NONE
  19 min_num_negative_samples float =0.0
  20 desired_negative_sampling_ratio float =3.0
msg LocalizationLoss
  oneof localization_loss: weighted_l2 weighted_smooth_l1 weighted_iou l1_localization_loss
  oneof localization_loss: weighted_giou
  1 weighted_l2 WeightedL2LocalizationLoss
  2 weighted_smooth_l1 WeightedSmoothL1LocalizationLoss
  3 weighted_iou WeightedIOULocalizationLoss
  4 l1_localization_loss L1LocalizationLoss
  5 weighted_giou WeightedGIOULocalizationLoss
msg WeightedL2LocalizationLoss
  1 anchorwise_output bool =false
msg WeightedSmoothL1LocalizationLoss
  1 anchorwise_output bool =false
  2 delta float =1.0
msg WeightedIOULocalizationLoss
msg L1LocalizationLoss
msg WeightedGIOULocalizationLoss
msg RandomExampleSampler
  1 positive_sample_fraction float =0.01
msg Loss.EqualizationLoss
  1 weight float =0.0
  2 exclude_prefixes *string

# -- ssd
msg Ssd
  1 num_classes int32
  2 image_resizer ImageResizer
  3 feature_extractor SsdFeatureExtractor
  4 box_coder BoxCoder
  5 matcher Matcher
  6 similarity_calculator RegionSimilarityCalculator
  12 encode_background_as_zeros bool =false
  13 negative_class_weight float =1.0
  7 box_predictor BoxPredictor
  8 anchor_generator AnchorGenerator
  9 post_processing PostProcessing
  10 normalize_loss_by_num_matches bool =true
  14 normalize_loc_loss_by_codesize bool =false
  11 loss Loss
  16 freeze_batchnorm bool =false
  15 inplace_batchnorm_update bool =false
  21 add_background_class bool =true
  24 explicit_background_class bool =false
  22 use_confidences_as_targets bool =false
  23 implicit_example_weight float =1.0
  26 return_raw_detections_during_predict bool =false
  25 mask_head_config Ssd.MaskHead
msg SsdFeatureExtractor
  oneof feature_pyramid_oneof: fpn bifpn
  1 type string
  2 depth_multiplier float =1.0
  3 min_depth int32 =16
  4 conv_hyperparams Hyperparams
  9 override_base_feature_extractor_hyperparams bool =false
  5 pad_to_multiple int32 =1
  7 use_explicit_padding bool =false
  8 use_depthwise bool =false
  10 fpn FeaturePyramidNetworks
  19 bifpn BidirectionalFeaturePyramidNetworks
  11 replace_preprocessor_with_placeholder bool =false
  12 num_layers int32 =6
  20 spaghettinet_arch_name string
msg Ssd.MaskHead
  1 mask_height int32 =15
  2 mask_width int32 =15
  3 masks_are_class_agnostic bool =true
  4 mask_prediction_conv_depth int32 =256
  5 mask_prediction_num_conv_layers int32 =2
  6 convolve_then_upsample_masks bool =false
  7 mask_loss_weight float =5.0
  8 mask_loss_sample_size int32 =16
  9 conv_hyperparams Hyperparams
  10 initial_crop_size int32 =15

# -- box_coder
msg BoxCoder
  oneof box_coder_oneof: faster_rcnn_box_coder mean_stddev_box_coder square_box_coder
  oneof box_coder_oneof: keypoint_box_coder
  1 faster_rcnn_box_coder FasterRcnnBoxCoder
  2 mean_stddev_box_coder MeanStddevBoxCoder
  3 square_box_coder SquareBoxCoder
  4 keypoint_box_coder KeypointBoxCoder

# -- faster_rcnn_box_coder
msg FasterRcnnBoxCoder
  1 y_scale float =10.0
  2 x_scale float =10.0
  3 height_scale float =5.0
  4 width_scale float =5.0

# -- mean_stddev_box_coder
msg MeanStddevBoxCoder
  1 stddev float =0.01

# -- square_box_coder
msg SquareBoxCoder
  1 y_scale float =10.0
  2 x_scale float =10.0
  3 length_scale float =5.0

# -- keypoint_box_coder
msg KeypointBoxCoder
  1 num_keypoints int32
  2 y_scale float =10.0
  3 x_scale float =10.0
  4 height_scale float =5.0
  5 width_scale float =5.0

# -- matcher
msg Matcher
  oneof matcher_oneof: argmax_matcher bipartite_matcher
  1 argmax_matcher ArgMaxMatcher
  2 bipartite_matcher BipartiteMatcher

# -- argmax_matcher
msg ArgMaxMatcher
  1 matched_threshold float =0.5
  2 unmatched_threshold float =0.5
  3 ignore_thresholds bool =false
  4 negatives_lower_than_unmatched bool =true
  5 force_match_for_each_row bool =false
  6 use_matmul_gather bool =false

# -- bipartite_matcher
msg BipartiteMatcher
  6 use_matmul_gather bool =false

# -- region_similarity_calculator
msg RegionSimilarityCalculator
  oneof region_similarity: neg_sq_dist_similarity iou_similarity ioa_similarity
  oneof region_similarity: thresholded_iou_similarity
  1 neg_sq_dist_similarity NegSqDistSimilarity
  2 iou_similarity IouSimilarity
  3 ioa_similarity IoaSimilarity
  4 thresholded_iou_similarity ThresholdedIouSimilarity
msg NegSqDistSimilarity
msg IouSimilarity
msg IoaSimilarity
msg ThresholdedIouSimilarity
  1 iou_threshold float =0.5

# -- center_net
enum AugmentedSelfSupervisionLoss LOSS_UNSET=0 LOSS_DICE=1 LOSS_MSE=2 LOSS_KL_DIV=3
enum LossNormalize NORMALIZE_AUTO=0 NORMALIZE_GROUNDTRUTH_COUNT=1 NORMALIZE_BALANCED=3
msg CenterNet
  1 num_classes int32
  2 feature_extractor CenterNetFeatureExtractor
  3 image_resizer ImageResizer
  13 use_depthwise bool =false
  15 compute_heatmap_sparse bool =false
  4 object_detection_task CenterNet.ObjectDetection
  5 object_center_params CenterNet.ObjectCenterParams
  6 keypoint_label_map_path string
  7 keypoint_estimation_task *CenterNet.KeypointEstimation
  8 mask_estimation_task CenterNet.MaskEstimation
  9 densepose_estimation_task CenterNet.DensePoseEstimation
  10 track_estimation_task CenterNet.TrackEstimation
  12 temporal_offset_task CenterNet.TemporalOffsetEstimation
  14 deepmac_mask_estimation CenterNet.DeepMACMaskEstimation
  24 post_processing PostProcessing
  25 output_prediction_dict bool =false
msg CenterNetFeatureExtractor
  1 type string
  2 channel_means *float
  3 channel_stds *float
  4 bgr_ordering bool =false
  5 use_depthwise bool =false
  9 depth_multiplier float =1.0
  10 use_separable_conv bool =false
  11 upsampling_interpolation string ="nearest"
msg CenterNet.ObjectDetection
  1 task_loss_weight float =1.0
  3 offset_loss_weight float =1.0
  4 scale_loss_weight float =0.1
  8 localization_loss LocalizationLoss
  9 scale_head_params CenterNet.PredictionHeadParams
  10 offset_head_params CenterNet.PredictionHeadParams
msg CenterNet.PredictionHeadParams
  1 num_filters *int32
  2 kernel_sizes *int32
msg CenterNet.ObjectCenterParams
  1 object_center_loss_weight float =1.0
  2 classification_loss ClassificationLoss
  3 heatmap_bias_init float =-2.19
  4 min_box_overlap_iou float =0.7
  5 max_box_predictions int32 =100
  6 use_labeled_classes bool =false
  7 keypoint_weights_for_center *float
  8 center_head_params CenterNet.PredictionHeadParams
  9 peak_max_pool_kernel_size int32 =3
msg CenterNet.KeypointEstimation
  1 task_name string
  2 task_loss_weight float =1.0
  3 loss Loss
  4 keypoint_class_name string
  5 keypoint_label_to_std *CenterNet.KeypointEstimation.KeypointLabelToStdEntry
  6 keypoint_regression_loss_weight float =1.0
  7 keypoint_heatmap_loss_weight float =1.0
  8 keypoint_offset_loss_weight float =1.0
  9 heatmap_bias_init float =-2.19
  10 keypoint_candidate_score_threshold float =0.1
  11 num_candidates_per_keypoint int32 =100
  12 peak_max_pool_kernel_size int32 =3
  13 unmatched_keypoint_score float =0.1
  14 box_scale float =1.2
  15 candidate_search_scale float =0.3
  16 candidate_ranking_mode string ="min_distance"
  22 score_distance_offset float =1.0
  28 score_distance_multiplier float =0.1
  29 std_dev_multiplier float =1.0
  17 offset_peak_radius int32 =0
  18 per_keypoint_offset bool =false
  19 predict_depth bool =false
  20 per_keypoint_depth bool =false
  21 keypoint_depth_loss_weight float =1.0
  23 clip_out_of_frame_keypoints bool =false
  24 rescore_instances bool =false
  30 rescoring_threshold float =0.0
  31 gaussian_denom_ratio float =0.1
  32 argmax_postprocessing bool =false
  25 heatmap_head_params CenterNet.PredictionHeadParams
  26 offset_head_params CenterNet.PredictionHeadParams
  27 regress_head_params CenterNet.PredictionHeadParams
map CenterNet.KeypointEstimation.KeypointLabelToStdEntry string float
msg CenterNet.MaskEstimation
  1 task_loss_weight float =1.0
  2 classification_loss ClassificationLoss
  4 mask_height int32 =256
  5 mask_width int32 =256
  6 score_threshold float =0.5
  3 heatmap_bias_init float =-2.19
  7 mask_head_params CenterNet.PredictionHeadParams
msg CenterNet.DensePoseEstimation
  1 task_loss_weight float =1.0
  2 class_id int32
  3 loss Loss
  4 num_parts int32 =24
  5 part_loss_weight float =1.0
  6 coordinate_loss_weight float =1.0
  7 upsample_to_input_res bool =true
  8 heatmap_bias_init float =-2.19
msg CenterNet.TrackEstimation
  1 task_loss_weight float =1.0
  2 num_track_ids int32
  3 reid_embed_size int32 =128
  4 num_fc_layers int32 =1
  5 classification_loss ClassificationLoss
msg CenterNet.TemporalOffsetEstimation
  1 task_loss_weight float =1.0
  2 localization_loss LocalizationLoss
msg CenterNet.DeepMACMaskEstimation
  1 classification_loss ClassificationLoss
  2 task_loss_weight float =1.0
  3 dim int32 =256
  4 pixel_embedding_dim int32 =16
  5 allowed_masked_classes_ids *int32
  6 mask_size int32 =32
  67 mask_num_subsamples int32 =-1
  8 use_xy bool =true
  9 network_type string ="hourglass52"
  10 use_instance_embedding bool =true
  11 num_init_channels int32 =64
  12 predict_full_resolution_masks bool =false
  13 postprocess_crop_size int32 =256
  14 max_roi_jitter_ratio float =0.0
  15 jitter_mode RandomJitterBoxes.JitterMode =DEFAULT
  16 box_consistency_loss_weight float =0.0
  17 color_consistency_threshold float =0.4
  18 color_consistency_dilation int32 =2
  19 color_consistency_loss_weight float =0.0
  20 box_consistency_loss_normalize LossNormalize =NORMALIZE_AUTO
  21 box_consistency_tightness bool =false
  22 color_consistency_warmup_steps int32 =0
  23 color_consistency_warmup_start int32 =0
  24 use_only_last_stage bool =false
  25 augmented_self_supervision_max_translation float =0.0
  26 augmented_self_supervision_flip_probability float =0.0
  27 augmented_self_supervision_loss_weight float =0.0
  28 augmented_self_supervision_warmup_start int32 =0
  29 augmented_self_supervision_warmup_steps int32 =0
  30 augmented_self_supervision_loss AugmentedSelfSupervisionLoss =LOSS_DICE
  31 augmented_self_supervision_scale_min float =1.0
  32 augmented_self_supervision_scale_max float =1.0
  33 pointly_supervised_keypoint_loss_weight float =0.0
  34 ignore_per_class_box_overlap bool =false

# -- train
enum CheckpointVersion UNKNOWN=0 V1=1 V2=2
msg TrainConfig
  1 batch_size uint32 =32
  2 data_augmentation_options *PreprocessingStep
  3 sync_replicas bool =false
  4 keep_checkpoint_every_n_hours float =10000.0
  5 optimizer Optimizer
  6 gradient_clipping_by_norm float =0.0
  7 fine_tune_checkpoint string =""
  22 fine_tune_checkpoint_type string =""
  28 fine_tune_checkpoint_version CheckpointVersion =V1
  8 from_detection_checkpoint bool =false
  19 load_all_detection_checkpoint_vars bool =false
  30 run_fine_tune_checkpoint_dummy_computation bool =true
  9 num_steps uint32 =0
  10 startup_delay_steps float =15.0
  11 bias_grad_multiplier float =0.0
  25 update_trainable_variables *string
  12 freeze_variables *string
  13 replicas_to_aggregate int32 =1
  14 batch_queue_capacity int32 =150
  15 num_batch_queue_threads int32 =8
  16 prefetch_queue_capacity int32 =5
  17 merge_multiple_label_boxes bool =false
  24 use_multiclass_scores bool =false
  18 add_regularization_loss bool =true
  20 max_number_of_boxes int32 =100
  21 unpad_groundtruth_tensors bool =true
  23 retain_original_images bool =false
  26 use_bfloat16 bool =false
  27 summarize_gradients bool =false

# -- preprocessor
msg PreprocessingStep
  oneof preprocessing_step: normalize_image random_horizontal_flip random_pixel_value_scale
  oneof preprocessing_step: random_image_scale random_rgb_to_gray random_adjust_brightness
  oneof preprocessing_step: random_adjust_contrast random_adjust_hue random_adjust_saturation
  oneof preprocessing_step: random_distort_color random_jitter_boxes random_crop_image
  oneof preprocessing_step: random_pad_image random_crop_pad_image random_crop_to_aspect_ratio
  oneof preprocessing_step: random_black_patches random_resize_method
  oneof preprocessing_step: scale_boxes_to_pixel_coordinates resize_image subtract_channel_mean
  oneof preprocessing_step: ssd_random_crop ssd_random_crop_pad
  oneof preprocessing_step: ssd_random_crop_fixed_aspect_ratio
  oneof preprocessing_step: ssd_random_crop_pad_fixed_aspect_ratio random_vertical_flip
  oneof preprocessing_step: random_rotation90 rgb_to_gray convert_class_logits_to_softmax
  oneof preprocessing_step: random_absolute_pad_image random_self_concat_image autoaugment_image
  oneof preprocessing_step: drop_label_probabilistically remap_labels random_jpeg_quality
  oneof preprocessing_step: random_downscale_to_target_pixels random_patch_gaussian
  oneof preprocessing_step: random_square_crop_by_scale random_scale_crop_and_pad_to_square
  oneof preprocessing_step: adjust_gamma
  1 normalize_image NormalizeImage
  2 random_horizontal_flip RandomHorizontalFlip
  3 random_pixel_value_scale RandomPixelValueScale
  4 random_image_scale RandomImageScale
  5 random_rgb_to_gray RandomRGBtoGray
  6 random_adjust_brightness RandomAdjustBrightness
  7 random_adjust_contrast RandomAdjustContrast
  8 random_adjust_hue RandomAdjustHue
  9 random_adjust_saturation RandomAdjustSaturation
  10 random_distort_color RandomDistortColor
  11 random_jitter_boxes RandomJitterBoxes
  12 random_crop_image RandomCropImage
  13 random_pad_image RandomPadImage
  14 random_crop_pad_image RandomCropPadImage
  15 random_crop_to_aspect_ratio RandomCropToAspectRatio
  16 random_black_patches RandomBlackPatches
  17 random_resize_method RandomResizeMethod
  18 scale_boxes_to_pixel_coordinates ScaleBoxesToPixelCoordinates
  19 resize_image ResizeImage
  20 subtract_channel_mean SubtractChannelMean
  21 ssd_random_crop SSDRandomCrop
  22 ssd_random_crop_pad SSDRandomCropPad
  23 ssd_random_crop_fixed_aspect_ratio SSDRandomCropFixedAspectRatio
  24 ssd_random_crop_pad_fixed_aspect_ratio SSDRandomCropPadFixedAspectRatio
  25 random_vertical_flip RandomVerticalFlip
  26 random_rotation90 RandomRotation90
  27 rgb_to_gray RGBtoGray
  28 convert_class_logits_to_softmax ConvertClassLogitsToSoftmax
  29 random_absolute_pad_image RandomAbsolutePadImage
  30 random_self_concat_image RandomSelfConcatImage
  31 autoaugment_image AutoAugmentImage
  32 drop_label_probabilistically DropLabelProbabilistically
  33 remap_labels RemapLabels
  34 random_jpeg_quality RandomJpegQuality
  35 random_downscale_to_target_pixels RandomDownscaleToTargetPixels
  36 random_patch_gaussian RandomPatchGaussian
  37 random_square_crop_by_scale RandomSquareCropByScale
  38 random_scale_crop_and_pad_to_square RandomScaleCropAndPadToSquare
  39 adjust_gamma AdjustGamma
msg NormalizeImage
  1 original_minval float
  2 original_maxval float
  3 target_minval float =0.0
  4 target_maxval float =1.0
msg RandomHorizontalFlip
  1 keypoint_flip_permutation *int32
  2 probability float =0.5
msg RandomPixelValueScale
  1 minval float =0.9
  2 maxval float =1.1
msg RandomImageScale
  1 min_scale_ratio float =0.5
  2 max_scale_ratio float =2.0
msg RandomRGBtoGray
  1 probability float =0.1
msg RandomAdjustBrightness
  1 max_delta float =0.2
msg RandomAdjustContrast
  1 min_delta float =0.8
  2 max_delta float =1.25
msg RandomAdjustHue
  1 max_delta float =0.02
msg RandomAdjustSaturation
  1 min_delta float =0.8
  2 max_delta float =1.25
msg RandomDistortColor
  1 color_ordering int32
msg RandomJitterBoxes
  enum JitterMode DEFAULT=0 EXPAND=1 SHRINK=2 EXPAND_SYMMETRIC=4 SHRINK_SYMMETRIC=5
  enum JitterMode EXPAND_SYMMETRIC_XY=6 SHRINK_SYMMETRIC_XY=7
  1 ratio float =0.05
  2 jitter_mode RandomJitterBoxes.JitterMode =DEFAULT
msg RandomCropImage
  1 min_object_covered float =1.0
  2 min_aspect_ratio float =0.75
  3 max_aspect_ratio float =1.33
  4 min_area float =0.1
  5 max_area float =1.0
  6 overlap_thresh float =0.3
  8 clip_boxes bool =true
  7 random_coef float =0.0
msg RandomPadImage
  1 min_image_height int32
  2 min_image_width int32
  3 max_image_height int32
  4 max_image_width int32
  5 pad_color *float
msg RandomCropPadImage
  1 min_object_covered float =1.0
  2 min_aspect_ratio float =0.75
  3 max_aspect_ratio float =1.33
  4 min_area float =0.1
  5 max_area float =1.0
  6 overlap_thresh float =0.3
  11 clip_boxes bool =true
  7 random_coef float =0.0
  8 min_padded_size_ratio *float
  9 max_padded_size_ratio *float
  10 pad_color *float
msg RandomCropToAspectRatio
  1 aspect_ratio float =1.0
  2 overlap_thresh float =0.3
  3 clip_boxes bool =true
msg RandomBlackPatches
  1 max_black_patches int32 =10
  2 probability float =0.5
  3 size_to_image_ratio float =0.1
msg RandomResizeMethod
  1 target_height int32
  2 target_width int32
msg ScaleBoxesToPixelCoordinates
msg ResizeImage
  enum Method AREA=1 BICUBIC=2 BILINEAR=3 NEAREST_NEIGHBOR=4
  1 new_height int32
  2 new_width int32
  3 method ResizeImage.Method =BILINEAR
msg SubtractChannelMean
  1 means *float
msg SSDRandomCrop
  1 operations *SSDRandomCropOperation
msg SSDRandomCropOperation
  1 min_object_covered float
  2 min_aspect_ratio float
  3 max_aspect_ratio float
  4 min_area float
  5 max_area float
  6 overlap_thresh float
  8 clip_boxes bool =true
  7 random_coef float
msg SSDRandomCropPad
  1 operations *SSDRandomCropPadOperation
msg SSDRandomCropPadOperation
  1 min_object_covered float
  2 min_aspect_ratio float
  3 max_aspect_ratio float
  4 min_area float
  5 max_area float
  6 overlap_thresh float
  13 clip_boxes bool =true
  7 random_coef float
  8 min_padded_size_ratio *float
  9 max_padded_size_ratio *float
  10 pad_color_r float
  11 pad_color_g float
  12 pad_color_b float
msg SSDRandomCropFixedAspectRatio
  1 operations *SSDRandomCropFixedAspectRatioOperation
  2 aspect_ratio float =1.0
msg SSDRandomCropFixedAspectRatioOperation
  1 min_object_covered float
  4 min_area float
  5 max_area float
  6 overlap_thresh float
  8 clip_boxes bool =true
  7 random_coef float
msg SSDRandomCropPadFixedAspectRatio
  1 operations *SSDRandomCropPadFixedAspectRatioOperation
  2 aspect_ratio float =1.0
  3 min_padded_size_ratio *float
  4 max_padded_size_ratio *float
msg SSDRandomCropPadFixedAspectRatioOperation
  1 min_object_covered float
  2 min_aspect_ratio float
  3 max_aspect_ratio float
  4 min_area float
  5 max_area float
  6 overlap_thresh float
  8 clip_boxes bool =true
  7 random_coef float
msg RandomVerticalFlip
  1 keypoint_flip_permutation *int32
  2 probability float =0.5
msg RandomRotation90
  1 keypoint_rot_permutation *int32
  2 probability float =0.5
msg RGBtoGray
msg ConvertClassLogitsToSoftmax
  1 temperature float =1.0
msg RandomAbsolutePadImage
  1 max_height_padding int32
  2 max_width_padding int32
  3 pad_color *float
msg RandomSelfConcatImage
  1 concat_vertical_probability float =0.1
  2 concat_horizontal_probability float =0.1
msg AutoAugmentImage
  1 policy_name string ="v0"
msg DropLabelProbabilistically
  1 label int32
  2 drop_probability float =1.0
msg RemapLabels
  1 original_labels *int32
  2 new_label int32
msg RandomJpegQuality
  1 random_coef float =0.0
  2 min_jpeg_quality int32 =0
  3 max_jpeg_quality int32 =100
msg RandomDownscaleToTargetPixels
  1 random_coef float =0.0
  2 min_target_pixels int32 =300000
  3 max_target_pixels int32 =500000
msg RandomPatchGaussian
  1 random_coef float =0.0
  2 min_patch_size int32 =1
  3 max_patch_size int32 =250
  4 min_gaussian_stddev float =0.0
  5 max_gaussian_stddev float =1.0
msg RandomSquareCropByScale
  1 max_border int32 =128
  2 scale_min float =0.6
  3 scale_max float =1.3
  4 num_scales int32 =8
msg RandomScaleCropAndPadToSquare
  1 output_size int32 =512
  2 scale_min float =0.1
  3 scale_max float =2.0
msg AdjustGamma
  1 gamma float =1.0
  2 gain float =1.0

# -- optimizer
msg Optimizer
  oneof optimizer: rms_prop_optimizer momentum_optimizer adam_optimizer
  1 rms_prop_optimizer RMSPropOptimizer
  2 momentum_optimizer MomentumOptimizer
  3 adam_optimizer AdamOptimizer
  4 use_moving_average bool =true
  5 moving_average_decay float =0.9999
msg RMSPropOptimizer
  1 learning_rate LearningRate
  2 momentum_optimizer_value float =0.9
  3 decay float =0.9
  4 epsilon float =1.0
msg LearningRate
  oneof learning_rate: constant_learning_rate exponential_decay_learning_rate
  oneof learning_rate: manual_step_learning_rate cosine_decay_learning_rate
  1 constant_learning_rate ConstantLearningRate
  2 exponential_decay_learning_rate ExponentialDecayLearningRate
  3 manual_step_learning_rate ManualStepLearningRate
  4 cosine_decay_learning_rate CosineDecayLearningRate
msg ConstantLearningRate
  1 learning_rate float =0.002
msg ExponentialDecayLearningRate
  1 initial_learning_rate float =0.002
  2 decay_steps uint32 =4000000
  3 decay_factor float =0.95
  4 staircase bool =true
  5 burnin_learning_rate float =0.0
  6 burnin_steps uint32 =0
  7 min_learning_rate float =0.0
msg ManualStepLearningRate
  1 initial_learning_rate float =0.002
  2 schedule *ManualStepLearningRate.LearningRateSchedule
  3 warmup bool =false
msg ManualStepLearningRate.LearningRateSchedule
  1 step uint32
  2 learning_rate float =0.002
msg CosineDecayLearningRate
  1 learning_rate_base float =0.002
  2 total_steps uint32 =4000000
  3 warmup_learning_rate float =0.0002
  4 warmup_steps uint32 =10000
  5 hold_base_rate_steps uint32 =0
msg MomentumOptimizer
  1 learning_rate LearningRate
  2 momentum_optimizer_value float =0.9
msg AdamOptimizer
  1 learning_rate LearningRate
  2 epsilon float =1e-08

# -- input_reader
enum InputType INPUT_DEFAULT=0 TF_EXAMPLE=1 TF_SEQUENCE_EXAMPLE=2
enum InstanceMaskType DEFAULT=0 NUMERICAL_MASKS=1 PNG_MASKS=2
msg InputReader
  oneof input_reader: tf_record_input_reader external_input_reader
  23 name string =""
  1 label_map_path string =""
  2 shuffle bool =true
  11 shuffle_buffer_size uint32 =2048
  12 filenames_shuffle_buffer_size uint32 =100
  5 num_epochs uint32 =0
  22 sample_1_of_n_examples uint32 =1
  6 num_readers uint32 =64
  19 num_parallel_batches uint32 =8
  20 num_prefetch_batches int32 =2
  3 queue_capacity uint32 =2000
  4 min_after_dequeue uint32 =1000
  15 read_block_length uint32 =32
  13 prefetch_size uint32 =512
  14 num_parallel_map_calls uint32 =64
  35 drop_remainder bool =true
  18 num_additional_channels int32 =0
  16 num_keypoints uint32 =0
  26 keypoint_type_weight *float
  21 max_number_of_boxes int32 =100
  24 load_multiclass_scores bool =false
  25 load_context_features bool =false
  36 load_context_image_ids bool =false
  7 load_instance_masks bool =false
  10 mask_type InstanceMaskType =NUMERICAL_MASKS
  31 load_dense_pose bool =false
  33 load_track_id bool =false
  37 load_keypoint_depth_features bool =false
  17 use_display_name bool =false
  27 include_source_id bool =false
  30 input_type InputType =TF_EXAMPLE
  32 frame_index int32 =-1
  38 use_keypoint_label_map bool =false
  8 tf_record_input_reader TFRecordInputReader
  9 external_input_reader ExternalInputReader
  34 sample_from_datasets_weights *float
  29 expand_labels_hierarchy bool =false
msg TFRecordInputReader
  1 input_path *string
msg ExternalInputReader
  extensions 1 999

# -- eval
msg EvalConfig
  25 batch_size uint32 =1
  1 num_visualizations uint32 =10
  2 num_examples uint32 =5000
  3 eval_interval_secs uint32 =300
  4 max_evals uint32 =0
  5 save_graph bool =false
  6 visualization_export_dir string =""
  7 eval_master string =""
  8 metrics_set *string
  31 parameterized_metric *ParameterizedMetric
  9 export_path string =""
  10 ignore_groundtruth bool =false
  11 use_moving_averages bool =false
  12 eval_instance_masks bool =false
  13 min_score_threshold float =0.5
  14 max_num_boxes_to_visualize int32 =20
  15 skip_scores bool =false
  16 skip_labels bool =false
  17 visualize_groundtruth_boxes bool =false
  18 groundtruth_box_visualization_color string ="black"
  19 keep_image_id_for_visualization_export bool =false
  23 retain_original_images bool =true
  24 include_metrics_per_category bool =false
  35 all_metrics_per_category bool =false
  34 super_categories *EvalConfig.SuperCategoriesEntry
  26 recall_lower_bound float =0.0
  27 recall_upper_bound float =1.0
  28 retain_original_image_additional_channels bool =false
  29 force_no_resize bool =false
  30 use_dummy_loss_in_eval bool =false
  32 keypoint_edge *KeypointEdge
  33 skip_predictions_for_unlabeled_class bool =false
  36 image_classes_field_map_empty_to_ones bool =true
msg ParameterizedMetric
  oneof parameterized_metric: coco_keypoint_metrics
  1 coco_keypoint_metrics CocoKeypointMetrics
msg CocoKeypointMetrics
  1 class_label string
  2 keypoint_label_to_sigmas *CocoKeypointMetrics.KeypointLabelToSigmasEntry
map CocoKeypointMetrics.KeypointLabelToSigmasEntry string float
map EvalConfig.SuperCategoriesEntry string string
msg KeypointEdge
  1 start int32
  2 end int32

# -- graph_rewriter
msg GraphRewriter
  extensions 1000
  1 quantization Quantization
msg Quantization
  1 delay int32 =500000
  2 weight_bits int32 =8
  3 activation_bits int32 =8
  4 symmetric bool =false
"""
