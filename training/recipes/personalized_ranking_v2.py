"""aws-personalized-ranking-v2: the user-personalization-v2 transformer, served as a ranker.

Amazon Personalize's Personalized-Ranking-v2 recipe ("a transformer-based architecture", one documented
hyperparameter, ``apply_recency_bias``, default true, not tunable) re-ranks a caller-supplied list:
GetPersonalizedRanking orders ``inputList`` by the user's scores. The model, its hyperparameters and its
export are those of ``aws-user-personalization-v2`` (a causal self-attention model over the user's
history, ``training/recipes/user_personalization_v2.py``); what differs is the recipe type, which tells
the runtime to answer GetPersonalizedRanking (and refuse GetRecommendations).
"""

from __future__ import annotations

from training.recipes.user_personalization_v2 import UserPersonalizationV2Recipe


class PersonalizedRankingV2Recipe(UserPersonalizationV2Recipe):
    name = "aws-personalized-ranking-v2"
    recipe_type = "PERSONALIZED_RANKING"
    description = (
        "Ranks a given list of items for a user by the probability that the user interacts with each next, "
        "from a transformer (causal self-attention) over the user's interaction sequence (the "
        "aws-user-personalization-v2 model)."
    )
    feature_transformation = "personalized-ranking-v2"
